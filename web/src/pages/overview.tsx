import { api, unwrap, type Overview } from '../api.js';
import { useLoad } from '../hooks.js';
import { useTitle } from '../title.js';
import { ErrorLine } from '../ui.js';

const CHART_HEIGHT = 80;
const BAR_WIDTH = 8;

/** Messages per minute over the hour, as bars; the numbers are in the table it describes. */
function PerMinuteChart({ perMinute }: { perMinute: number[] }) {
  const peak = Math.max(1, ...perMinute);
  const total = perMinute.reduce((sum, n) => sum + n, 0);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${perMinute.length * BAR_WIDTH} ${CHART_HEIGHT}`}
        role="img"
        aria-label={`Messages per minute over the last hour: ${total} in all, at most ${peak} in one minute.`}
        preserveAspectRatio="none"
      >
        {perMinute.map((count, minute) => {
          const height = (count / peak) * (CHART_HEIGHT - 4);
          return (
            <rect
              key={minute}
              x={minute * BAR_WIDTH + 1}
              y={CHART_HEIGHT - height}
              width={BAR_WIDTH - 2}
              height={height}
              class="bar"
            />
          );
        })}
      </svg>
      <figcaption>Messages per minute, last hour (now at the right)</figcaption>
    </figure>
  );
}

const ms = (value: number | null) => (value === null ? '—' : `${Math.round(value)} ms`);

function Stats({ overview }: { overview: Overview }) {
  const stats = [
    ['Received', overview.received],
    ['Delivered', overview.delivered],
    ['Failed', overview.failed],
    ['Not answered', overview.not_answered],
    ['Acknowledgement p50', ms(overview.ack_ms.p50)],
    ['Acknowledgement p99', ms(overview.ack_ms.p99)],
  ] as const;
  return (
    <dl class="stats">
      {stats.map(([label, value]) => (
        <div key={label} class="card">
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function OverviewPage() {
  useTitle('Overview');
  const overview = useLoad(() => unwrap(api.GET('/v1/overview')), [], 10_000);
  const data = overview.data;
  return (
    <section>
      <h1>Overview</h1>
      <p class="lead">
        The last hour across every channel. New here? <a href="#/agents">Create an agent</a>, then{' '}
        <a href="#/channels/new">connect a channel</a>.
      </p>
      <ErrorLine message={overview.error} />
      {data ? (
        <>
          <Stats overview={data} />
          <PerMinuteChart perMinute={data.per_minute} />
          <h2>Channels that need a look</h2>
          {data.channels.length === 0 ? <p>None: no failures in the last hour, and no delivery paused.</p> : null}
          <ul class="list">
            {data.channels.map((channel) => (
              <li key={channel.id} class="card row">
                <a href={`#/channels/${channel.id}`}>{channel.page_id}</a>
                <span>
                  {channel.failed > 0 ? `${channel.failed} failed` : ''}
                  {channel.delivery_paused ? ` · paused: ${channel.paused_reason ?? ''}` : ''}
                </span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
