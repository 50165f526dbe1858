package dev.reins.protocol.run;

import dev.reins.protocol.auth.Tenants;
import java.time.Instant;

/**
 * The state of one run, derived only by folding its events with {@link #apply}. Recovery, audit
 * replay and time-travel queries all use this one fold.
 *
 * @param tenant who owns the run; only callers of that tenant see it
 * @param stopCause why a {@code cancelling} run is being stopped; decides its terminal state
 * @param retryAt for a pending retry, the earliest time the attempt may start
 * @param attemptStartedAt when the current attempt's process started (timeouts count from here)
 */
public record RunState(
    String runId,
    String tenant,
    RunStatus status,
    int attempt,
    RunSpec spec,
    Instant createdAt,
    Instant updatedAt,
    WorkerInfo worker,
    ExitInfo exit,
    CancelInfo cancel,
    StopCause stopCause,
    Instant retryAt,
    Instant attemptStartedAt) {

  public RunState {
    // snapshots taken before tenants existed: those runs belong to the default tenant
    if (status != null && tenant == null) {
      tenant = Tenants.DEFAULT;
    }
  }

  /** Why a run is in {@code cancelling}. */
  public enum StopCause {
    CANCEL,
    TIMEOUT
  }

  /** Before the first event: the run does not exist. */
  public static final RunState EMPTY =
      new RunState(null, null, null, 0, null, null, null, null, null, null, null, null, null);

  public boolean exists() {
    return status != null;
  }

  public RunState apply(RunEvent event) {
    // Java 17 has no pattern switch; the permits list of RunEvent is the checklist for this chain.
    if (event instanceof RunEvent.RunSubmitted e) {
      return new RunState(e.runId(), e.tenant(), RunStatus.PENDING, e.attempt(), e.spec(), e.at(), e.at(),
          null, null, null, null, null, null);
    } else if (event instanceof RunEvent.AttemptStarted e) {
      return new RunState(runId, tenant, RunStatus.RUNNING, attempt, spec, createdAt, e.at(), e.worker(),
          null, cancel, null, null, e.at());
    } else if (event instanceof RunEvent.AttemptStartFailed e) {
      return attemptEnded(new ExitInfo(null, null, "start_failed", e.message()), e.at());
    } else if (event instanceof RunEvent.AttemptExited e) {
      return attemptEnded(new ExitInfo(e.code(), e.signal(), "exited", null), e.at());
    } else if (event instanceof RunEvent.WorkerLost e) {
      return attemptEnded(
          new ExitInfo(null, null, "worker_lost", "worker on " + e.node() + " was lost"), e.at());
    } else if (event instanceof RunEvent.CancelRequested e) {
      CancelInfo requested = new CancelInfo(e.reason(), e.at());
      return status == RunStatus.PENDING
          ? new RunState(runId, tenant, RunStatus.CANCELLED, attempt, spec, createdAt, e.at(), null,
              null, requested, null, null, null)
          : new RunState(runId, tenant, RunStatus.CANCELLING, attempt, spec, createdAt, e.at(), worker,
              null, requested, StopCause.CANCEL, null, attemptStartedAt);
    } else if (event instanceof RunEvent.TimeoutReached e) {
      return new RunState(runId, tenant, RunStatus.CANCELLING, attempt, spec, createdAt, e.at(), worker,
          null, cancel, StopCause.TIMEOUT, null, attemptStartedAt);
    } else if (event instanceof RunEvent.RunReset e) {
      return new RunState(runId, tenant, RunStatus.PENDING, e.attempt(), spec, createdAt, e.at(), null,
          null, null, null, null, null);
    }
    throw new IllegalArgumentException("unknown run event " + event.getClass().getName());
  }

  /**
   * The current attempt's process is gone (or never came up). A run being stopped ends as its
   * stop cause says; otherwise success, a retry as attempt n+1, or failure.
   */
  private RunState attemptEnded(ExitInfo how, Instant at) {
    RunStatus next;
    if (status == RunStatus.CANCELLING) {
      next = stopCause == StopCause.TIMEOUT ? RunStatus.TIMED_OUT : RunStatus.CANCELLED;
    } else if ("exited".equals(how.reason()) && Integer.valueOf(0).equals(how.code())) {
      next = RunStatus.SUCCEEDED;
    } else if (spec.retry().allowsAnotherAfter(attempt)) {
      return new RunState(runId, tenant, RunStatus.PENDING, attempt + 1, spec, createdAt, at, null, how,
          null, null, at.plusSeconds(spec.retry().backoffSeconds()), null);
    } else {
      next = RunStatus.FAILED;
    }
    return new RunState(runId, tenant, next, attempt, spec, createdAt, at, null, how, cancel, null, null,
        null);
  }
}
