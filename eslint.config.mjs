import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.tools/',
      '.data/',
      '.test-tmp/',
      'bin/',
      'scripts/*.mjs',
      'web/src/api-schema.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // Implementations of promise-returning interfaces are often synchronous; an async body says so plainly.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no clocks, randomness or I/O.
    files: ['src/workflows/**/*.ts', 'src/observability/workflow-*.ts', 'src/chat-line/wait.ts'],
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
          // Every Node built-in, listed by Node itself, so a new one is never missed (exact names:
          // a pattern would also match our own folders, such as ../domain).
          paths: [...builtinModules, 'mongodb', 'openai', 'express', 'pino'].map((name) => ({
            name,
            message: 'Workflows must not do I/O.',
          })),
          patterns: [
            { group: ['node:*'], message: 'Workflows must not do I/O.' },
            {
              // From src/workflows/ and from its folders (src/workflows/message/).
              group: [
                ...['activities', 'stores', 'api', 'worker'].flatMap((folder) => [
                  `../${folder}/*`,
                  `../../${folder}/*`,
                ]),
              ],
              allowTypeImports: true,
              message: 'Workflows import only pure code and activity types.',
            },
            {
              // The chat's line: only its wait is workflow code; the rest does I/O.
              group: ['line', 'store', 'temporal', 'hold', 'index', 'activities'].flatMap((file) => [
                `../chat-line/${file}.js`,
                `../../chat-line/${file}.js`,
                `./${file}.js`,
              ]),
              allowTypeImports: true,
              message: 'Workflows import only pure code and activity types.',
            },
          ],
        },
      ],
    },
  },
  // Config files are plain JavaScript outside the TypeScript project.
  { files: ['**/*.mjs', '**/*.js'], ...tseslint.configs.disableTypeChecked },
);
