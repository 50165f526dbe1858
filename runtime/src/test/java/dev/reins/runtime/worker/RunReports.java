package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;

/**
 * Stands in for the run entities of a {@link WorkerPool} under test: takes every worker report,
 * keeps the order they arrived in, and lets a test wait for one report of one run while others
 * (from other runs) keep arriving. Claims are answered at once, by default with a grant, as a run
 * does for the first worker that claims its pending attempt; a test can have a run deny its claims
 * or leave them unanswered. Other reports are acknowledged only when a test says so.
 */
final class RunReports {

  /** How the stand-in run answers its workers' claims. */
  enum Claims {
    GRANT,
    DENY,
    /** No answer: the test answers (or not) itself. */
    HOLD
  }

  private final TestProbe<WorkerReport> probe;
  /** By run id; runs not named here grant. Written by the test, read by the workers' threads. */
  private final Map<String, Claims> claims = new ConcurrentHashMap<>();
  /** Received but not yet taken by {@link #next}. */
  private final List<WorkerReport> backlog = new ArrayList<>();
  /** Everything received, in order of arrival. */
  private final List<WorkerReport> arrived = new ArrayList<>();

  RunReports(ActorTestKit kit) {
    this.probe = kit.createTestProbe();
  }

  /** What the pool is created with. */
  BiConsumer<String, WorkerReport> sink() {
    return (runId, report) -> {
      if (report instanceof WorkerReport.Claim claim) {
        switch (claims.getOrDefault(runId, Claims.GRANT)) {
          case GRANT -> grant(claim);
          case DENY -> claim.worker().tell(new ProcessWorker.ClaimDenied(claim.attempt(), "denied by the test"));
          case HOLD -> {}
        }
      }
      probe.ref().tell(report);
    };
  }

  /** How {@code runId} answers claims from now on; set it before the run asks for a slot. */
  void answerClaims(String runId, Claims how) {
    claims.put(runId, how);
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

  /**
   * Listens for {@code quiet} and fails if {@code runId} reported anything but a claim meanwhile
   * (or before, without a test taking it): its worker has started nothing.
   */
  void expectNothingStartedFor(String runId, Duration quiet) {
    Instant deadline = Instant.now().plus(quiet);
    while (true) {
      Duration left = Duration.between(Instant.now(), deadline);
      if (left.isNegative() || left.isZero()) {
        break;
      }
      try {
        WorkerReport r = probe.receiveMessage(left);
        arrived.add(r);
        backlog.add(r);
      } catch (AssertionError nothingMore) {
        break;
      }
    }
    assertEquals(List.of(),
        backlog.stream().filter(r -> r.runId().equals(runId) && !(r instanceof WorkerReport.Claim)).toList());
  }

  /** Tells the claiming worker that its run recorded it, as the run entity does. */
  static void grant(WorkerReport.Claim claim) {
    claim.worker().tell(new ProcessWorker.ClaimGranted(claim.attempt()));
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
