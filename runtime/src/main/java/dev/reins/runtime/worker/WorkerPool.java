package dev.reins.runtime.worker;

import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.run.RunSpec;
import dev.reins.runtime.CborSerializable;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The worker slots of one node. Runs ask for a slot per attempt; requests wait in submission order
 * and start as slots free. At most one process per run exists on the node at any time: a newer
 * attempt of a run waits until the older attempt's process is gone, even when a slot is free.
 *
 * <p>Requests are idempotent per (run, attempt): a run that restarts and asks again for an attempt
 * that is already running is answered by that attempt's worker repeating its report, which is how
 * a recovered entity re-attaches to its process.
 */
public final class WorkerPool extends AbstractBehavior<WorkerPool.Command> {

  public sealed interface Command extends CborSerializable {}

  /** A run's attempt wants a slot. */
  public record RequestSlot(String runId, String tenant, int attempt, RunSpec spec) implements Command {
    public RequestSlot(String runId, int attempt, RunSpec spec) {
      this(runId, Tenants.DEFAULT, attempt, spec);
    }
  }

  /** The run no longer wants the attempt: drop it from the queue, or stop its process. */
  public record Withdraw(String runId, int attempt, Duration grace) implements Command {}

  /** Sent by a worker when its process (and process group) is gone: the slot is free. */
  public record ProcessGone(String runId, int attempt) implements Command {}

  public record GetStatus(ActorRef<Status> replyTo) implements Command {}

  public record Status(int slots, List<String> running, List<String> queued) implements CborSerializable {}

  private record WorkerStopped(String runId, int attempt) implements Command {}

  private record Active(int attempt, ActorRef<ProcessWorker.Command> worker, boolean processAlive) {}

  private final WorkerSettings settings;
  private final JobCredentials credentials;
  private final String node;
  private final PidFiles pids;
  private final BiConsumer<String, WorkerReport> reportTo;
  /** By run id: the worker actors alive on this node (their process may already be gone). */
  private final Map<String, Active> active = new HashMap<>();
  /** By run id, in request order: attempts waiting for a slot. */
  private final LinkedHashMap<String, RequestSlot> queue = new LinkedHashMap<>();
  private int busySlots;

  /**
   * @param reportTo how a worker's report reaches its run (by run id, through sharding)
   */
  public static Behavior<Command> create(
      WorkerSettings settings, JobCredentials credentials, String node, BiConsumer<String, WorkerReport> reportTo) {
    return Behaviors.setup(
        ctx -> {
          PidFiles pids = new PidFiles(settings.dataDir());
          List<Long> reaped = pids.reapOrphans();
          if (!reaped.isEmpty()) {
            ctx.getLog().warn("killed {} process group(s) orphaned by an earlier crash: {}", reaped.size(), reaped);
          }
          return new WorkerPool(ctx, settings, credentials, node, pids, reportTo);
        });
  }

  private WorkerPool(
      ActorContext<Command> ctx,
      WorkerSettings settings,
      JobCredentials credentials,
      String node,
      PidFiles pids,
      BiConsumer<String, WorkerReport> reportTo) {
    super(ctx);
    this.settings = settings;
    this.credentials = credentials;
    this.node = node;
    this.pids = pids;
    this.reportTo = reportTo;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(RequestSlot.class, this::onRequest)
        .onMessage(Withdraw.class, this::onWithdraw)
        .onMessage(ProcessGone.class, this::onProcessGone)
        .onMessage(WorkerStopped.class, this::onWorkerStopped)
        .onMessage(GetStatus.class, this::onGetStatus)
        .build();
  }

  private Behavior<Command> onRequest(RequestSlot r) {
    Active a = active.get(r.runId());
    if (a != null && a.attempt() == r.attempt()) {
      a.worker().tell(new ProcessWorker.Resend());
      return this;
    }
    if (a != null && a.attempt() > r.attempt()) {
      return this; // a request from an older attempt than the one already running
    }
    RequestSlot queued = queue.get(r.runId());
    if (queued == null || queued.attempt() < r.attempt()) {
      queue.remove(r.runId());
      queue.put(r.runId(), r);
    }
    dispatch();
    return this;
  }

  private Behavior<Command> onWithdraw(Withdraw w) {
    RequestSlot queued = queue.get(w.runId());
    if (queued != null && queued.attempt() == w.attempt()) {
      queue.remove(w.runId());
    }
    Active a = active.get(w.runId());
    if (a != null && a.attempt() == w.attempt()) {
      a.worker().tell(new ProcessWorker.Stop(w.attempt(), w.grace()));
    }
    return this;
  }

  private Behavior<Command> onProcessGone(ProcessGone g) {
    Active a = active.get(g.runId());
    if (a != null && a.attempt() == g.attempt() && a.processAlive()) {
      active.put(g.runId(), new Active(a.attempt(), a.worker(), false));
      busySlots--;
      dispatch();
    }
    return this;
  }

  private Behavior<Command> onWorkerStopped(WorkerStopped s) {
    Active a = active.get(s.runId());
    if (a != null && a.attempt() == s.attempt()) {
      active.remove(s.runId());
      if (a.processAlive()) {
        // the worker died without reporting its process gone (a bug or a crash in the worker):
        // free the slot; its pid file lets the next start of the node reap the process
        busySlots--;
      }
      dispatch();
    }
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus g) {
    List<String> running =
        active.entrySet().stream()
            .filter(e -> e.getValue().processAlive())
            .map(e -> e.getKey() + "#" + e.getValue().attempt())
            .sorted()
            .toList();
    List<String> queued = queue.values().stream().map(r -> r.runId() + "#" + r.attempt()).toList();
    g.replyTo().tell(new Status(settings.slots(), running, queued));
    return this;
  }

  /** Starts queued attempts, oldest request first, while slots are free. */
  private void dispatch() {
    Iterator<RequestSlot> it = queue.values().iterator();
    while (busySlots < settings.slots() && it.hasNext()) {
      RequestSlot r = it.next();
      if (active.containsKey(r.runId())) {
        continue; // an older attempt's worker is still around: one process per run at a time
      }
      it.remove();
      ActorRef<ProcessWorker.Command> worker =
          getContext()
              .spawn(
                  ProcessWorker.create(
                      r.runId(), r.tenant(), r.attempt(), r.spec(), node, settings, credentials, pids, reportTo, getContext().getSelf()),
                  "run-" + r.runId() + "-" + r.attempt(),
                  DispatcherSelector.fromConfig("reins.worker.dispatcher"));
      getContext().watchWith(worker, new WorkerStopped(r.runId(), r.attempt()));
      active.put(r.runId(), new Active(r.attempt(), worker, true));
      busySlots++;
    }
  }
}
