package dev.reins.protocol.run;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationStatus;
import java.time.Instant;

/**
 * Every change to a run is one of these events, written to the journal before anyone hears of
 * it. The JSON names below are the stored names: they are part of the journal format, so a class
 * may be renamed freely but a name here never changes. {@link RunState#apply} is the only place
 * an event changes state.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = RunEvent.RunSubmitted.class, name = "RunSubmitted"),
  @JsonSubTypes.Type(value = RunEvent.AttemptPlaced.class, name = "AttemptPlaced"),
  @JsonSubTypes.Type(value = RunEvent.AttemptStarted.class, name = "AttemptStarted"),
  @JsonSubTypes.Type(value = RunEvent.AttemptStartFailed.class, name = "AttemptStartFailed"),
  @JsonSubTypes.Type(value = RunEvent.AttemptExited.class, name = "AttemptExited"),
  @JsonSubTypes.Type(value = RunEvent.WorkerLost.class, name = "WorkerLost"),
  @JsonSubTypes.Type(value = RunEvent.AttemptInterrupted.class, name = "AttemptInterrupted"),
  @JsonSubTypes.Type(value = RunEvent.CancelRequested.class, name = "CancelRequested"),
  @JsonSubTypes.Type(value = RunEvent.TimeoutReached.class, name = "TimeoutReached"),
  @JsonSubTypes.Type(value = RunEvent.RunReset.class, name = "RunReset"),
  @JsonSubTypes.Type(value = RunEvent.DelegationRequested.class, name = "DelegationRequested"),
  @JsonSubTypes.Type(value = RunEvent.DelegationEnded.class, name = "DelegationEnded"),
})
public sealed interface RunEvent {

  Instant at();

  /** The attempt this event belongs to (the fencing token). */
  int attempt();

  /**
   * A run was accepted; attempt 1 is pending. {@code tenant} owns the run (events written before
   * tenants existed have none and belong to {@link Tenants#DEFAULT}). A child run, created by
   * delegation {@code delegationId} of run {@code parentRunId}, names them.
   */
  record RunSubmitted(String runId, RunSpec spec, int attempt, Instant at, String tenant, String parentRunId, String delegationId)
      implements RunEvent {
    public RunSubmitted {
      tenant = tenant == null ? Tenants.DEFAULT : tenant;
    }

    public RunSubmitted(String runId, RunSpec spec, int attempt, Instant at, String tenant) {
      this(runId, spec, attempt, at, tenant, null, null);
    }

    public RunSubmitted(String runId, RunSpec spec, int attempt, Instant at) {
      this(runId, spec, attempt, at, Tenants.DEFAULT, null, null);
    }
  }

  /**
   * A worker claimed the attempt and the run granted it: that worker, and no other, may start the
   * attempt's process (its pid is 0 here; the run stays pending until the process has started).
   * Recorded before the process starts, so that a second worker claiming the same attempt (after a
   * rebalance, a lost message, a slow node) is refused and two processes of one run never exist.
   */
  record AttemptPlaced(int attempt, WorkerInfo worker, Instant at) implements RunEvent {}

  /** The attempt's process is running ({@code worker.pid} is its pid). */
  record AttemptStarted(int attempt, WorkerInfo worker, Instant at) implements RunEvent {}

  /** The attempt's process could not be started (bad executable, bad workdir, ...). */
  record AttemptStartFailed(int attempt, String message, Instant at) implements RunEvent {}

  /** The attempt's process is gone; {@code code} or {@code signal} says how it ended. */
  record AttemptExited(int attempt, Integer code, String signal, Instant at) implements RunEvent {}

  /** The worker of the attempt disappeared (node crash or restart) without reporting an exit. */
  record WorkerLost(int attempt, String node, Instant at) implements RunEvent {}

  /**
   * The attempt's process was stopped because its node shut down (drained: {@code reason}
   * {@code node_shutdown}). The run starts over as a new attempt without using its retry budget.
   */
  record AttemptInterrupted(int attempt, String reason, Integer code, String signal, Instant at) implements RunEvent {}

  /** A client asked to cancel: pending ends at once, running starts tearing down. */
  record CancelRequested(int attempt, String reason, Instant at) implements RunEvent {}

  /** The attempt ran past the run's timeout; it is stopped as in a cancel. */
  record TimeoutReached(int attempt, Instant at) implements RunEvent {}

  /** A terminal run starts over as attempt {@code attempt} with a fresh cancellation scope. */
  record RunReset(int attempt, Instant at) implements RunEvent {}

  /**
   * The run asked for a delegation: journaled here before anyone hears of it; the delegation's own
   * journal ({@code Delegation|<delegationId>}) tells the rest of its life. {@code attempt} is the
   * attempt that asked.
   */
  record DelegationRequested(String delegationId, DelegationSpec spec, Instant deadline, int attempt, Instant at)
      implements RunEvent {}

  /** A delegation of this run ended (as the delegation reported it). */
  record DelegationEnded(String delegationId, DelegationStatus status, String reason, int attempt, Instant at)
      implements RunEvent {}
}
