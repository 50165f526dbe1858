package dev.reins.runtime.worker;

import dev.reins.runtime.CborSerializable;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What a worker tells its run, by run id through sharding, so that the report reaches whichever
 * incarnation of the run entity is alive. Each report is repeated until the run acknowledges it
 * ({@link ProcessWorker.Ack}); the run must therefore treat duplicates as no-ops.
 */
public sealed interface WorkerReport extends CborSerializable {
  String runId();

  int attempt();

  ActorRef<ProcessWorker.Command> worker();

  /** The process is running. */
  record Started(String runId, int attempt, String node, long pid, ActorRef<ProcessWorker.Command> worker)
      implements WorkerReport {}

  /** The process could not be started. */
  record StartFailed(String runId, int attempt, String message, ActorRef<ProcessWorker.Command> worker)
      implements WorkerReport {}

  /** The process and its group are gone. */
  record Exited(String runId, int attempt, Integer code, String signal, ActorRef<ProcessWorker.Command> worker)
      implements WorkerReport {}
}
