package dev.reins.runtime.worker;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.BiConsumer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;

/**
 * Stands in for the run entities of a {@link WorkerPool} under test: takes every worker report,
 * keeps the order they arrived in, and lets a test wait for one report of one run while others
 * (from other runs) keep arriving. Reports are acknowledged only when a test says so.
 */
final class RunReports {
  private final TestProbe<WorkerReport> probe;
  /** Received but not yet taken by {@link #next}. */
  private final List<WorkerReport> backlog = new ArrayList<>();
  /** Everything received, in order of arrival. */
  private final List<WorkerReport> arrived = new ArrayList<>();

  RunReports(ActorTestKit kit) {
    this.probe = kit.createTestProbe();
  }

  /** What the pool is created with. */
  BiConsumer<String, WorkerReport> sink() {
    return (runId, report) -> probe.ref().tell(report);
  }

  /** The next report of {@code type} for {@code runId}, waiting at most {@code max}. */
  <R extends WorkerReport> R next(Class<R> type, String runId, Duration max) {
    Instant deadline = Instant.now().plus(max);
    while (true) {
      for (Iterator<WorkerReport> it = backlog.iterator(); it.hasNext(); ) {
        WorkerReport r = it.next();
        if (type.isInstance(r) && r.runId().equals(runId)) {
          it.remove();
          return type.cast(r);
        }
      }
      Duration left = Duration.between(Instant.now(), deadline);
      if (left.isNegative() || left.isZero()) {
        throw new AssertionError("no " + type.getSimpleName() + " report for run " + runId + " within " + max
            + "; received: " + arrived);
      }
      WorkerReport r;
      try {
        r = probe.receiveMessage(left);
      } catch (AssertionError e) {
        throw new AssertionError("no " + type.getSimpleName() + " report for run " + runId + " within " + max
            + "; received: " + arrived, e);
      }
      arrived.add(r);
      backlog.add(r);
    }
  }

  /** Tells the report's worker that its run recorded it, as the run entity does. */
  static void ack(WorkerReport report) {
    report.worker().tell(ProcessWorker.ackFor(report));
  }

  /** Every report received so far, in order of arrival. */
  List<WorkerReport> arrived() {
    return List.copyOf(arrived);
  }
}
