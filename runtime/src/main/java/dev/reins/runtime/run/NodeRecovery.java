package dev.reins.runtime.run;

import dev.reins.protocol.run.RunStatus;
import dev.reins.runtime.worker.PidFiles;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After a crash, a node comes back with the attempts its earlier life was running (its pid
 * files). Their processes are gone (killed as orphans); until each run has recorded that, GET
 * would still show it running on a dead pid. The node reports ready only once every such run has
 * moved past that attempt (lost-worker recorded: retried, failed or cancelled).
 */
public final class NodeRecovery {
  private static final Logger log = LoggerFactory.getLogger(NodeRecovery.class);
  private static final Duration POLL = Duration.ofMillis(200);

  private NodeRecovery() {}

  /** Completes when every orphaned attempt is resolved, or after {@code timeout} (with a warning). */
  public static CompletionStage<Void> awaitResolved(ActorSystem<?> system, Runs runs, List<PidFiles.Orphan> orphans, Duration timeout) {
    if (orphans.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    log.info("waiting for {} run(s) of this node's earlier life to record their lost attempt", orphans.size());
    Instant deadline = Instant.now().plus(timeout);
    CompletableFuture<?>[] all = orphans.stream()
        .map(o -> poll(system, runs, o, deadline).toCompletableFuture())
        .toArray(CompletableFuture[]::new);
    return CompletableFuture.allOf(all);
  }

  private static CompletionStage<Void> poll(ActorSystem<?> system, Runs runs, PidFiles.Orphan o, Instant deadline) {
    return runs.get(o.runId(), RunAccess.INTERNAL)
        .handle((reply, error) -> error == null && resolved(reply, o))
        .thenCompose(done -> {
          if (done) {
            return CompletableFuture.completedFuture(null);
          }
          if (Instant.now().isAfter(deadline)) {
            log.warn("run {} attempt {} of this node's earlier life is still unresolved; reporting ready anyway", o.runId(), o.attempt());
            return CompletableFuture.completedFuture(null);
          }
          CompletableFuture<Void> later = new CompletableFuture<>();
          system.scheduler().scheduleOnce(POLL, () -> poll(system, runs, o, deadline).whenComplete((v, e) -> later.complete(null)),
              system.executionContext());
          return later;
        });
  }

  private static boolean resolved(RunEntity.Reply reply, PidFiles.Orphan o) {
    if (reply.outcome() == RunEntity.Outcome.NOT_FOUND) {
      return true;
    }
    RunStatus status = reply.state().status();
    boolean stillOnLostAttempt = reply.state().attempt() == o.attempt()
        && (status == RunStatus.RUNNING || status == RunStatus.CANCELLING);
    return !stillOnLostAttempt;
  }
}
