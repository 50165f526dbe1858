package dev.reins.runtime.worker;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import dev.reins.runtime.CborSerializable;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What a worker tells its run, by run id through sharding, so that the report reaches whichever
 * incarnation of the run entity is alive. Each report is repeated until the run acknowledges it
 * ({@link ProcessWorker.Ack}); the run must therefore treat duplicates as no-ops.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = WorkerReport.Claim.class, name = "claim"),
  @JsonSubTypes.Type(value = WorkerReport.Started.class, name = "started"),
  @JsonSubTypes.Type(value = WorkerReport.StartFailed.class, name = "start_failed"),
  @JsonSubTypes.Type(value = WorkerReport.Exited.class, name = "exited"),
})
public sealed interface WorkerReport extends CborSerializable {
  String runId();

  int attempt();

  ActorRef<ProcessWorker.Command> worker();

  /**
   * The worker has a slot for the attempt and asks to run it. The run answers {@link
   * ProcessWorker.ClaimGranted} (after recording this worker) or {@link ProcessWorker.ClaimDenied}
   * (the attempt is not pending, or another worker has it); no process starts before the grant.
   */
  record Claim(String runId, int attempt, String node, ActorRef<ProcessWorker.Command> worker) implements WorkerReport {}

  /** The process is running. */
  record Started(String runId, int attempt, String node, long pid, ActorRef<ProcessWorker.Command> worker)
      implements WorkerReport {}

  /** The process could not be started. */
  record StartFailed(String runId, int attempt, String message, ActorRef<ProcessWorker.Command> worker)
      implements WorkerReport {}

  /**
   * The process and its group are gone. {@code interruption} is {@code node_shutdown} when the
   * worker stopped it because its node was shutting down, else {@code null}.
   */
  record Exited(
      String runId, int attempt, Integer code, String signal, String interruption, ActorRef<ProcessWorker.Command> worker)
      implements WorkerReport {
    public Exited(String runId, int attempt, Integer code, String signal, ActorRef<ProcessWorker.Command> worker) {
      this(runId, attempt, code, signal, null, worker);
    }
  }
}
