package dev.reins.protocol.run;

import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.delegation.DelegationStatus;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The state of one run, derived only by folding its events with {@link #apply}. Recovery, audit
 * replay and time-travel queries all use this one fold.
 *
 * @param tenant who owns the run; only callers of that tenant see it
 * @param worker where the current attempt runs: set when the attempt is placed on a worker (the
 *     run stays pending, with pid 0, until the process has started), cleared when it ends
 * @param stopCause why a {@code cancelling} run is being stopped; decides its terminal state
 * @param retryAt for a pending retry, the earliest time the attempt may start
 * @param attemptStartedAt when the current attempt's process started (timeouts count from here)
 * @param interruptions attempts that ended because their node shut down; they do not count
 *     against the run's retry budget
 * @param parentRunId for a child run (a delegation's target), the run that delegated
 * @param delegations this run's delegations by id, in the order they were asked for
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
    Instant attemptStartedAt,
    int interruptions,
    String parentRunId,
    Map<String, RunDelegation> delegations) {

  public RunState {
    // snapshots taken before tenants existed: those runs belong to the default tenant
    if (status != null && tenant == null) {
      tenant = Tenants.DEFAULT;
    }
    delegations = delegations == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(delegations));
  }

  /** Why a run is in {@code cancelling}. */
  public enum StopCause {
    CANCEL,
    TIMEOUT
  }

  /** Before the first event: the run does not exist. */
  public static final RunState EMPTY =
      new RunState(null, null, null, 0, null, null, null, null, null, null, null, null, null, 0, null, Map.of());

  public boolean exists() {
    return status != null;
  }

  /** Since when the current attempt waits for a slot (pools order their queues by this). */
  public Instant pendingSince() {
    return retryAt != null ? retryAt : updatedAt;
  }

  public RunState apply(RunEvent event) {
    // Java 17 has no pattern switch; the permits list of RunEvent is the checklist for this chain.
    if (event instanceof RunEvent.RunSubmitted e) {
      return new RunState(e.runId(), e.tenant(), RunStatus.PENDING, e.attempt(), e.spec(), e.at(), e.at(),
          null, null, null, null, null, null, 0, e.parentRunId(), Map.of());
    } else if (event instanceof RunEvent.AttemptPlaced e) {
      // still pending: running means a process runs
      return next(e.at()).worker(e.worker()).exit(null).retryAt(null).build();
    } else if (event instanceof RunEvent.AttemptStarted e) {
      // a placed attempt may be cancelled before its process reports: it stays cancelling
      RunStatus now = status == RunStatus.CANCELLING ? RunStatus.CANCELLING : RunStatus.RUNNING;
      return next(e.at()).status(now).worker(e.worker()).exit(null).retryAt(null).attemptStartedAt(e.at()).build();
    } else if (event instanceof RunEvent.AttemptStartFailed e) {
      return attemptEnded(new ExitInfo(null, null, "start_failed", e.message()), e.at());
    } else if (event instanceof RunEvent.AttemptExited e) {
      return attemptEnded(new ExitInfo(e.code(), e.signal(), "exited", null), e.at());
    } else if (event instanceof RunEvent.WorkerLost e) {
      return attemptEnded(new ExitInfo(null, null, "worker_lost", "worker on " + e.node() + " was lost"), e.at());
    } else if (event instanceof RunEvent.AttemptInterrupted e) {
      ExitInfo how = new ExitInfo(e.code(), e.signal(), e.reason(), "the attempt was stopped because its node shut down");
      if (status == RunStatus.CANCELLING) {
        return attemptEnded(how, e.at());
      }
      // not the run's fault: a new attempt at once, and the retry budget is untouched
      return next(e.at()).status(RunStatus.PENDING).attempt(attempt + 1).worker(null).exit(how).cancel(null)
          .stopCause(null).retryAt(null).attemptStartedAt(null).interruptions(interruptions + 1).build();
    } else if (event instanceof RunEvent.CancelRequested e) {
      CancelInfo requested = new CancelInfo(e.reason(), e.at());
      // a pending attempt with no worker has nothing to stop; one placed on a worker does
      return status == RunStatus.PENDING && worker == null
          ? next(e.at()).status(RunStatus.CANCELLED).worker(null).exit(null).cancel(requested).retryAt(null).build()
          : next(e.at()).status(RunStatus.CANCELLING).exit(null).cancel(requested).stopCause(StopCause.CANCEL).build();
    } else if (event instanceof RunEvent.TimeoutReached e) {
      return next(e.at()).status(RunStatus.CANCELLING).exit(null).stopCause(StopCause.TIMEOUT).build();
    } else if (event instanceof RunEvent.DelegationRequested e) {
      Map<String, RunDelegation> all = new LinkedHashMap<>(delegations);
      all.put(e.delegationId(), new RunDelegation(e.delegationId(), e.spec(), e.deadline(), DelegationStatus.PENDING, e.at()));
      return next(e.at()).delegations(all).build();
    } else if (event instanceof RunEvent.DelegationEnded e) {
      RunDelegation known = delegations.get(e.delegationId());
      if (known == null) {
        return this;
      }
      Map<String, RunDelegation> all = new LinkedHashMap<>(delegations);
      all.put(e.delegationId(), new RunDelegation(known.id(), known.spec(), known.deadline(), e.status(), known.requestedAt()));
      return next(e.at()).delegations(all).build();
    } else if (event instanceof RunEvent.RunReset e) {
      return next(e.at()).status(RunStatus.PENDING).attempt(e.attempt()).worker(null).exit(null).cancel(null)
          .stopCause(null).retryAt(null).attemptStartedAt(null).build();
    }
    throw new IllegalArgumentException("unknown run event " + event.getClass().getName());
  }

  /**
   * The current attempt's process is gone (or never came up). A run being stopped ends as its
   * stop cause says; otherwise success, a retry as attempt n+1, or failure.
   */
  private RunState attemptEnded(ExitInfo how, Instant at) {
    Next next = next(at).worker(null).exit(how).stopCause(null).retryAt(null).attemptStartedAt(null);
    if (status == RunStatus.CANCELLING) {
      return next.status(stopCause == StopCause.TIMEOUT ? RunStatus.TIMED_OUT : RunStatus.CANCELLED).build();
    }
    if ("exited".equals(how.reason()) && Integer.valueOf(0).equals(how.code())) {
      return next.status(RunStatus.SUCCEEDED).build();
    }
    if (spec.retry().allowsAnotherAfter(attempt - interruptions)) {
      return next.status(RunStatus.PENDING).attempt(attempt + 1).cancel(null)
          .retryAt(at.plusSeconds(spec.retry().backoffSeconds())).build();
    }
    return next.status(RunStatus.FAILED).build();
  }

  private Next next(Instant at) {
    return new Next(this).updatedAt(at);
  }

  /** A copy of a state with some fields changed: each transition names only what it changes. */
  private static final class Next {
    private final RunState from;
    private RunStatus status;
    private int attempt;
    private Instant updatedAt;
    private WorkerInfo worker;
    private ExitInfo exit;
    private CancelInfo cancel;
    private StopCause stopCause;
    private Instant retryAt;
    private Instant attemptStartedAt;
    private int interruptions;
    private Map<String, RunDelegation> delegations;

    Next(RunState from) {
      this.from = from;
      this.status = from.status;
      this.attempt = from.attempt;
      this.updatedAt = from.updatedAt;
      this.worker = from.worker;
      this.exit = from.exit;
      this.cancel = from.cancel;
      this.stopCause = from.stopCause;
      this.retryAt = from.retryAt;
      this.attemptStartedAt = from.attemptStartedAt;
      this.interruptions = from.interruptions;
      this.delegations = from.delegations;
    }

    Next delegations(Map<String, RunDelegation> v) {
      delegations = v;
      return this;
    }

    Next status(RunStatus v) {
      status = v;
      return this;
    }

    Next attempt(int v) {
      attempt = v;
      return this;
    }

    Next updatedAt(Instant v) {
      updatedAt = v;
      return this;
    }

    Next worker(WorkerInfo v) {
      worker = v;
      return this;
    }

    Next exit(ExitInfo v) {
      exit = v;
      return this;
    }

    Next cancel(CancelInfo v) {
      cancel = v;
      return this;
    }

    Next stopCause(StopCause v) {
      stopCause = v;
      return this;
    }

    Next retryAt(Instant v) {
      retryAt = v;
      return this;
    }

    Next attemptStartedAt(Instant v) {
      attemptStartedAt = v;
      return this;
    }

    Next interruptions(int v) {
      interruptions = v;
      return this;
    }

    RunState build() {
      return new RunState(from.runId, from.tenant, status, attempt, from.spec, from.createdAt, updatedAt, worker, exit,
          cancel, stopCause, retryAt, attemptStartedAt, interruptions, from.parentRunId, delegations);
    }
  }
}
