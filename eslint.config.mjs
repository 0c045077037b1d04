import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.data/', '.test-tmp/', 'bin/', 'scripts/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no clocks, randomness or I/O.
    files: ['src/workflows/**/*.ts', 'src/observability/workflow-*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'fetch'],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='Math'][property.name='random']",
          message: 'Use Temporal uuid4/random.',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Use workflow time deliberately.',
        },
        {
          selector: "MemberExpression[object.name='Date'][property.name='now']",
          message: 'Use workflow time deliberately.',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'http',
                'https',
                'net',
                'crypto',
                'child_process',
                'mongodb',
                'openai',
                'express',
                'pino',
              ],
              message: 'Workflows must not do I/O.',
            },
            {
              group: ['../activities/*', '../stores/*', '../api/*', '../worker/*'],
              allowTypeImports: true,
              message: 'Workflows import only pure code and activity types.',
            },
          ],
        },
      ],
    },
  },
);
