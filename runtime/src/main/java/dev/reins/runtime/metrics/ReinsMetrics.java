package dev.reins.runtime.metrics;

import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * The node's meters (Micrometer, scraped as Prometheus text at {@code /metrics}), one per actor
 * system. With {@code reins.metrics.enabled = false} every meter is a no-op of an empty composite
 * registry and there is nothing to scrape: the cost of the metrics can be measured against that.
 *
 * <p>Runs count by transition on the node that hosts the run's entity ({@code reins_run_*_total}:
 * sum them over the nodes); how many runs are in each state now is a gauge of the run list read
 * model, refreshed at each scrape ({@link #runsByState}), so it is the cluster's, not the node's.
 */
public final class ReinsMetrics implements Extension {
  /** The buckets of latency histograms, in seconds: from a fast journal write to a slow stop. */
  private static final double[] LATENCY_BUCKETS_SECONDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  private final MeterRegistry registry;
  private final PrometheusMeterRegistry prometheus;
  private final Map<String, AtomicLong> runsByState = new ConcurrentHashMap<>();
  private final AtomicLong projectionPendingEvents = new AtomicLong();
  private final AtomicLong projectionLagMillis = new AtomicLong();

  private ReinsMetrics(boolean enabled) {
    if (enabled) {
      prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      registry = prometheus;
    } else {
      prometheus = null;
      registry = new CompositeMeterRegistry(); // no registry inside: every meter is a no-op
    }
    for (RunStatus s : RunStatus.values()) {
      AtomicLong n = new AtomicLong();
      runsByState.put(s.json(), n);
      Gauge.builder("reins.runs", n, AtomicLong::get).tag("state", s.json())
          .description("Runs in each state, from the run list read model (the whole cluster, as of the projection)")
          .register(registry);
    }
    Gauge.builder("reins.projection.pending.events", projectionPendingEvents, AtomicLong::get)
        .tag("projection", "runs").description("Journal events the run list projection has not applied yet")
        .register(registry);
    Gauge.builder("reins.projection.lag", projectionLagMillis, n -> n.get() / 1000.0).baseUnit("seconds")
        .tag("projection", "runs").description("Age of the oldest journal event the run list projection has not applied yet")
        .register(registry);
  }

  public static ReinsMetrics get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** For tests and tools that run without an actor system. */
  public static ReinsMetrics create(boolean enabled) {
    return new ReinsMetrics(enabled);
  }

  public static final class Id extends ExtensionId<ReinsMetrics> {
    static final Id INSTANCE = new Id();

    @Override
    public ReinsMetrics createExtension(ActorSystem<?> system) {
      return new ReinsMetrics(system.settings().config().getBoolean("reins.metrics.enabled"));
    }
  }

  public MeterRegistry registry() {
    return registry;
  }

  public boolean enabled() {
    return prometheus != null;
  }

  /** The Prometheus text exposition of every meter (empty when metrics are disabled). */
  public Optional<String> scrape() {
    return prometheus == null ? Optional.empty() : Optional.of(prometheus.scrape());
  }

  // ---- runs ------------------------------------------------------------------------------------

  /** The counts of the run list read model, by state (states without rows are 0). */
  public void runsByState(Map<String, Long> counts) {
    runsByState.forEach((state, n) -> n.set(counts.getOrDefault(state, 0L)));
  }

  public void projectionLag(long pendingEvents, long lagMillis) {
    projectionPendingEvents.set(pendingEvents);
    projectionLagMillis.set(lagMillis);
  }

  /**
   * A run entity's state after a journaled event, compared with its state before: counts the
   * submit, the cancel, the transition, and times the attempt that ended and the stop that
   * followed a cancel. Called only after the write (never on recovery).
   */
  public void runChanged(RunState before, RunState after, Clock clock) {
    if (after == null || !after.exists()) {
      return;
    }
    boolean created = before == null || !before.exists();
    if (created) {
      Counter.builder("reins.run.submits").description("Runs created (submits and child runs of delegations)")
          .register(registry).increment();
    }
    if ((created || before.cancel() == null) && after.cancel() != null) {
      Counter.builder("reins.run.cancels").description("Cancels that took effect (the first cancel of an attempt)")
          .register(registry).increment();
    }
    if (created || before.status() != after.status()) {
      Counter.builder("reins.run.transitions").tag("to", after.status().json())
          .description("Runs that entered a state").register(registry).increment();
    }
    if (created) {
      return;
    }
    boolean attemptEnded = before.attemptStartedAt() != null && !before.status().isTerminal()
        && (after.status().isTerminal() || after.attempt() != before.attempt() || after.attemptStartedAt() == null);
    if (attemptEnded) {
      String outcome = after.status().isTerminal() ? after.status().json() : "retried";
      Timer.builder("reins.attempt.duration").tag("outcome", outcome)
          .description("From an attempt's process start to its end")
          .serviceLevelObjectives(slo(1), slo(10), slo(60), slo(600), slo(3600))
          .register(registry).record(Duration.between(before.attemptStartedAt(), clock.instant()));
    }
    if (before.status() == RunStatus.CANCELLING && after.status().isTerminal() && after.cancel() != null
        && after.cancel().requestedAt() != null) {
      Timer.builder("reins.cancel.stop.latency")
          .description("From a cancel's request to the recorded end of the run's process")
          .serviceLevelObjectives(buckets())
          .register(registry).record(Duration.between(after.cancel().requestedAt(), clock.instant()));
    }
  }

  /** From a command's accepted event to its write confirmed by the journal. */
  public void journalWrite(String entity, long nanos) {
    Timer.builder("reins.journal.write").tag("entity", entity)
        .description("From an accepted command's event to the journal's confirmation of its write")
        .serviceLevelObjectives(buckets())
        .register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  // ---- workers ---------------------------------------------------------------------------------

  /** The pool's gauges; {@code busy} and {@code queued} are read at each scrape. */
  public void workerPool(String node, int slots, Supplier<Number> busy, Supplier<Number> queued) {
    Gauge.builder("reins.worker.slots", () -> slots).tag("node", node)
        .description("Worker slots of the node").register(registry);
    Gauge.builder("reins.worker.slots.busy", busy).tag("node", node)
        .description("Worker slots running an attempt").register(registry);
    Gauge.builder("reins.worker.queue", queued).tag("node", node)
        .description("Attempts waiting for a slot of the node").register(registry);
  }

  // ---- delegations -----------------------------------------------------------------------------

  public void delegationChanged(String target, String state) {
    Counter.builder("reins.delegation.transitions").tag("target", target).tag("to", state)
        .description("Delegations that entered a state").register(registry).increment();
  }

  /** One call to a remote agent (A2A): its method and whether it answered. */
  public void remoteCall(String method, String outcome, long nanos) {
    Timer.builder("reins.delegation.remote.latency").tag("method", method).tag("outcome", outcome)
        .description("Round trip of a call to a remote agent")
        .serviceLevelObjectives(buckets())
        .register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  /** A request answered by an endpoint: its route template (never the raw path) and status. */
  public void httpRequest(String method, String route, int status, long nanos) {
    Timer.builder("reins.http.server.requests").tag("method", method).tag("route", route).tag("status", Integer.toString(status))
        .description("HTTP requests by route template and status")
        .register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  private static Duration slo(long seconds) {
    return Duration.ofSeconds(seconds);
  }

  private static Duration[] buckets() {
    Duration[] out = new Duration[LATENCY_BUCKETS_SECONDS.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = Duration.ofNanos((long) (LATENCY_BUCKETS_SECONDS[i] * 1e9));
    }
    return out;
  }
}
