import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics, LabelledHistogram } from '../../src/gateway/metrics.ts';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED: Array<[string, number]> = [
  ['echo', 0.0004],
  ['echo', 0.001],
  ['echo', 0.05],
  ['add', 3],
  ['echo', 0.2],
  ['add', 0.01],
];

describe('LabelledHistogram', () => {
  it("writes the same exposition as prom-client's Histogram for the same observations", async () => {
    const ours = new Registry();
    const histogram = new LabelledHistogram({ name: 'h_seconds', help: 'help text', label: 'tool', buckets: BUCKETS });
    ours.registerMetric(histogram as never);
    const theirs = new Registry();
    const reference = new Histogram({
      name: 'h_seconds',
      help: 'help text',
      labelNames: ['tool'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    for (const [tool, seconds] of OBSERVED) {
      histogram.observe(tool, seconds);
      reference.observe({ tool }, seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('is the tool-call duration of the gateway metrics, by tool label', async () => {
    const metrics = new GatewayMetrics();
    metrics.tools.declareList({ tools: [{ name: 'echo' }] });
    metrics.recordToolCall('echo', 'ok', 0.002);
    metrics.recordToolCall('echo', 'ok', 0.003);
    const text = await metrics.registry.metrics();
    expect(text).toContain('mcp_gateway_tool_call_duration_seconds_count{tool="echo"} 2');
    expect(text).toContain('mcp_gateway_tool_call_duration_seconds_bucket{le="0.0025",tool="echo"} 1');
    expect(text).toContain('mcp_gateway_tool_call_duration_seconds_bucket{le="+Inf",tool="echo"} 2');
  });
});
