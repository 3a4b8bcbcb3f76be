// Prometheus text exposition (format 0.0.4) of the node's gauges and counters.

import type { NodeStatus } from "./app.ts";

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

interface Metric {
  name: string;
  help: string;
  type: "gauge" | "counter" | "summary";
  samples: Array<{ labels?: Record<string, string>; value: number; suffix?: string }>;
}

/** A summary in seconds: quantiles of a recent window, count and sum of all time. */
export interface Summary {
  help: string;
  quantiles: Array<[q: number, seconds: number]>;
  count: number;
  sumSeconds: number;
}

function render(metrics: Metric[]): string {
  const out: string[] = [];
  for (const m of metrics) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      const labels = s.labels
        ? "{" + Object.entries(s.labels).map(([k, v]) => `${k}="${esc(v)}"`).join(",") + "}"
        : "";
      const value = Number.isFinite(s.value)
        ? s.value
        : m.type === "summary" && Number.isNaN(s.value)
        ? "NaN"
        : 0;
      out.push(`${m.name}${s.suffix ?? ""}${labels} ${value}`);
    }
  }
  return out.join("\n") + "\n";
}

/** Counter names are `herd_<name>_total`; keys like `jobs_finished{state=failed}` carry one label. */
export function renderMetrics(
  s: NodeStatus,
  counters: Record<string, number>,
  gauges: Record<string, number> = {},
  summaries: Record<string, Summary> = {},
): string {
  const gauge = (name: string, help: string, value: number): Metric => ({
    name,
    help,
    type: "gauge",
    samples: [{ value }],
  });
  const mem = Deno.memoryUsage();
  const metrics: Metric[] = [
    {
      name: "herd_node_info",
      help: "Node identity; always 1.",
      type: "gauge",
      samples: [{
        labels: {
          id: s.id,
          name: s.name,
          class: s.class.kind,
          arch: s.arch,
          emulated: String(s.emulated),
        },
        value: 1,
      }],
    },
    gauge("herd_uptime_seconds", "Seconds since the agent started.", s.uptimeMs / 1000),
    gauge("herd_capacity_cpus", "CPUs offered to jobs.", s.capacity.cpu),
    gauge("herd_allocated_cpus", "CPUs reserved by running jobs.", s.allocated.cpu),
    gauge("herd_capacity_memory_bytes", "Memory offered to jobs.", s.capacity.memBytes),
    gauge("herd_allocated_memory_bytes", "Memory reserved by running jobs.", s.allocated.memBytes),
    gauge("herd_capacity_gpus", "Schedulable GPUs.", s.capacity.gpus),
    gauge("herd_allocated_gpus", "GPUs reserved by running jobs.", s.allocated.gpus),
    gauge("herd_jobs_running", "Jobs running on this node.", s.jobs.running),
    gauge("process_resident_memory_bytes", "Resident memory of the agent.", mem.rss),
    gauge("herd_heap_used_bytes", "V8 heap in use.", mem.heapUsed),
    gauge("herd_heap_total_bytes", "V8 heap reserved.", mem.heapTotal),
    gauge(
      "herd_external_memory_bytes",
      "Memory held by V8 outside its heap (buffers).",
      mem.external,
    ),
  ];
  if (s.load.memAvailableBytes !== undefined) {
    metrics.push(
      gauge(
        "herd_memory_available_bytes",
        "MemAvailable of the machine.",
        s.load.memAvailableBytes,
      ),
    );
  }
  if (s.load.load1 !== undefined) {
    metrics.push(gauge("herd_load1", "1-minute load average.", s.load.load1));
  }
  if (s.load.batteryPercent !== undefined) {
    metrics.push(gauge("herd_battery_percent", "Battery charge.", s.load.batteryPercent));
  }
  if (s.load.temperatureC !== undefined) {
    metrics.push(gauge("herd_temperature_celsius", "Hottest thermal zone.", s.load.temperatureC));
  }
  const byName = new Map<string, Metric>();
  const add = (entries: Record<string, number>, type: "counter" | "gauge") => {
    for (const [key, value] of Object.entries(entries).sort()) {
      const m = /^([a-z_0-9]+)(?:\{(\w+)=([^}]*)\})?$/.exec(key);
      if (!m) continue;
      const name = type === "counter" ? `herd_${m[1]}_total` : `herd_${m[1]}`;
      let metric = byName.get(name);
      if (!metric) {
        const what = m[1].replace(/_/g, " ");
        metric = {
          name,
          help: type === "counter" ? `Count of ${what}.` : `Current ${what}.`,
          type,
          samples: [],
        };
        byName.set(name, metric);
        metrics.push(metric);
      }
      metric.samples.push({ labels: m[2] ? { [m[2]]: m[3] } : undefined, value });
    }
  };
  add(counters, "counter");
  add(gauges, "gauge");
  for (const [key, sm] of Object.entries(summaries).sort()) {
    metrics.push({
      name: `herd_${key}_seconds`,
      help: sm.help,
      type: "summary",
      samples: [
        // An empty window has no quantiles: NaN, as Prometheus client libraries write it.
        ...sm.quantiles.map(([q, v]) => ({ labels: { quantile: String(q) }, value: v })),
        { suffix: "_sum", value: sm.sumSeconds },
        { suffix: "_count", value: sm.count },
      ],
    });
  }
  return render(metrics);
}
