package dev.reins.protocol.run;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import dev.reins.protocol.auth.Tenants;
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
  @JsonSubTypes.Type(value = RunEvent.AttemptStarted.class, name = "AttemptStarted"),
  @JsonSubTypes.Type(value = RunEvent.AttemptStartFailed.class, name = "AttemptStartFailed"),
  @JsonSubTypes.Type(value = RunEvent.AttemptExited.class, name = "AttemptExited"),
  @JsonSubTypes.Type(value = RunEvent.WorkerLost.class, name = "WorkerLost"),
  @JsonSubTypes.Type(value = RunEvent.CancelRequested.class, name = "CancelRequested"),
  @JsonSubTypes.Type(value = RunEvent.TimeoutReached.class, name = "TimeoutReached"),
  @JsonSubTypes.Type(value = RunEvent.RunReset.class, name = "RunReset"),
})
public sealed interface RunEvent {

  /** The tag every run event carries, for the global ordered feed ({@code eventsByTag}). */
  String TAG = "run";

  Instant at();

  /** The attempt this event belongs to (the fencing token). */
  int attempt();

  /**
   * A run was accepted; attempt 1 is pending. {@code tenant} owns the run (events written before
   * tenants existed have none and belong to {@link Tenants#DEFAULT}).
   */
  record RunSubmitted(String runId, RunSpec spec, int attempt, Instant at, String tenant) implements RunEvent {
    public RunSubmitted {
      tenant = tenant == null ? Tenants.DEFAULT : tenant;
    }

    public RunSubmitted(String runId, RunSpec spec, int attempt, Instant at) {
      this(runId, spec, attempt, at, Tenants.DEFAULT);
    }
  }

  /** A worker slot was granted and the attempt's process is running. */
  record AttemptStarted(int attempt, WorkerInfo worker, Instant at) implements RunEvent {}

  /** The attempt's process could not be started (bad executable, bad workdir, ...). */
  record AttemptStartFailed(int attempt, String message, Instant at) implements RunEvent {}

  /** The attempt's process is gone; {@code code} or {@code signal} says how it ended. */
  record AttemptExited(int attempt, Integer code, String signal, Instant at) implements RunEvent {}

  /** The worker of the attempt disappeared (node crash or restart) without reporting an exit. */
  record WorkerLost(int attempt, String node, Instant at) implements RunEvent {}

  /** A client asked to cancel: pending ends at once, running starts tearing down. */
  record CancelRequested(int attempt, String reason, Instant at) implements RunEvent {}

  /** The attempt ran past the run's timeout; it is stopped as in a cancel. */
  record TimeoutReached(int attempt, Instant at) implements RunEvent {}

  /** A terminal run starts over as attempt {@code attempt} with a fresh cancellation scope. */
  record RunReset(int attempt, Instant at) implements RunEvent {}
}
