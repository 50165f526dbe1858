package dev.reins.runtime.worker;

import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.run.RunSpec;
import dev.reins.runtime.CborSerializable;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * The worker slots of one node, and this node's share of placing attempts in the cluster.
 *
 * <p>Runs ask their node's pool for a slot per attempt. Requests wait in the order their attempts
 * became pending (not the order they arrived: after a restart the runs ask again in any order) and
 * start as slots free. At most one process per run exists on the node at any time: a newer attempt
 * of a run waits until the older attempt's process is gone, even when a slot is free.
 *
 * <p>Placement across nodes: pools find each other through the receptionist and tell each other
 * their free slots whenever those change (and every {@code capacity-interval}). A pool with
 * requests it cannot start offers its oldest one to the peer with the most free slots; the peer
 * starts it or declines, and an offer nobody answers goes back to the head of the queue after
 * {@code offer-timeout}. A request may therefore reach two pools (a slow answer, a lost message, a
 * run asking again): that is safe, because a worker starts nothing until its run granted its
 * claim, and the run grants one worker per attempt.
 *
 * <p>Requests are idempotent per (run, attempt): a run that asks again for an attempt that is
 * already running here is answered by that attempt's worker repeating its report, which is how a
 * recovered entity re-attaches to its process.
 */
public final class WorkerPool extends AbstractBehavior<WorkerPool.Command> {

  /** Every node's pool registers under this key. */
  public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "reins-worker-pool");

  public sealed interface Command extends CborSerializable {}

  /** A run's attempt wants a slot; {@code pendingSince} orders the queues. */
  public record RequestSlot(String runId, String tenant, int attempt, RunSpec spec, Instant pendingSince)
      implements Command {
    public RequestSlot(String runId, int attempt, RunSpec spec) {
      this(runId, Tenants.DEFAULT, attempt, spec, Instant.EPOCH);
    }
  }

  /** The run no longer wants the attempt: drop it from the queue, or stop its process. */
  public record Withdraw(String runId, int attempt, Duration grace) implements Command {}

  /** Sent by a worker when its process (and process group) is gone: the slot is free. */
  public record ProcessGone(String runId, int attempt) implements Command {}

  public record GetStatus(ActorRef<Status> replyTo) implements Command {}

  /** This node's slots, and what it last heard from the other nodes' pools. */
  public record Status(int slots, List<String> running, List<String> queued, List<Capacity> peers) implements CborSerializable {}

  /** What a pool tells its peers about itself. */
  public record Capacity(String node, ActorRef<Command> pool, int slots, int busy, int queued, boolean draining)
      implements Command {
    int free() {
      return draining ? 0 : Math.max(0, slots - busy);
    }
  }

  /** A peer with requests it cannot start offers one ({@code mustQueue}: take it even without a free slot). */
  public record Offer(RequestSlot request, boolean mustQueue, ActorRef<Command> from) implements Command {}

  public record OfferTaken(String runId, int attempt) implements Command {}

  public record OfferDeclined(RequestSlot request) implements Command {}

  /**
   * The node is shutting down: start nothing more, hand queued requests to peers, let running
   * attempts finish until {@code deadline}, then stop them (TERM, their grace, KILL) as
   * interrupted by the shutdown. Answers once every worker is gone.
   *
   * <p>{@code kill}: the node was downed (cut off from the majority, or declared dead while it
   * paused): the others take its runs over and may start their next attempts soon, so its
   * processes are killed at once, without the drain or their grace period, and the answer comes
   * once they are gone.
   */
  public record Drain(Instant deadline, boolean kill, ActorRef<Drained> replyTo) implements Command {
    public Drain(Instant deadline, ActorRef<Drained> replyTo) {
      this(deadline, false, replyTo);
    }
  }

  public record Drained(int stopped) implements CborSerializable {}

  private record WorkerStopped(String runId, int attempt) implements Command {}

  private record PeersChanged(Receptionist.Listing listing) implements Command {}

  private record OfferExpired(String runId, int attempt) implements Command {}

  private record Tick() implements Command {}

  /** Lets a pool created held ({@link #createHeld}) start attempts. */
  public record Open() implements Command {}

  private record DrainDeadline() implements Command {}

  private record Active(int attempt, ActorRef<ProcessWorker.Command> worker, boolean processAlive, Duration grace) {}

  private record Offered(RequestSlot request, ActorRef<Command> to) {}

  private static final Comparator<RequestSlot> QUEUE_ORDER =
      Comparator.comparing(RequestSlot::pendingSince).thenComparing(RequestSlot::runId).thenComparingInt(RequestSlot::attempt);

  private final WorkerSettings settings;
  private final JobCredentials credentials;
  private final String node;
  private final PidFiles pids;
  private final BiConsumer<String, WorkerReport> reportTo;
  private final TimerScheduler<Command> timers;
  /** By run id: the worker actors alive on this node (their process may already be gone). */
  private final Map<String, Active> active = new HashMap<>();
  /** Attempts waiting for a slot, oldest pending first; at most one per run. */
  private final TreeSet<RequestSlot> queue = new TreeSet<>(QUEUE_ORDER);
  private final Map<String, RequestSlot> queuedByRun = new HashMap<>();
  /** By run id: requests offered to a peer, not yet taken or declined. */
  private final Map<String, Offered> offered = new HashMap<>();
  /** The other nodes' pools and what they last said of their slots. */
  private final Map<ActorRef<Command>, Capacity> peers = new HashMap<>();
  private int busySlots;
  private Drain drain;
  private final List<ActorRef<Drained>> drainWaiters = new ArrayList<>();
  private boolean drainAnswered;
  private int stoppedByDrain;
  private boolean open;

  /**
   * @param reportTo how a worker's report reaches its run (by run id, through sharding)
   */
  public static Behavior<Command> create(
      WorkerSettings settings, JobCredentials credentials, String node, BiConsumer<String, WorkerReport> reportTo) {
    return create(settings, credentials, node, reportTo, true);
  }

  /**
   * A pool that queues requests but starts and offers nothing until it gets {@link Open}: a
   * restarted node opens once the runs of its earlier life are resolved and their requests are
   * back, so the queue starts in pending order instead of in the order the runs woke up.
   */
  public static Behavior<Command> createHeld(
      WorkerSettings settings, JobCredentials credentials, String node, BiConsumer<String, WorkerReport> reportTo) {
    return create(settings, credentials, node, reportTo, false);
  }

  private static Behavior<Command> create(
      WorkerSettings settings, JobCredentials credentials, String node, BiConsumer<String, WorkerReport> reportTo, boolean open) {
    return Behaviors.setup(
        ctx -> Behaviors.withTimers(timers -> {
          // orphans of an earlier life of this node were reaped before (see ReinsNode)
          // the journal (signing keys, token hashes), attempt logs and pid files are the server's
          // alone, whoever the jobs run as: closed by default
          RunAs.keepFromJobs(settings.dataDir());
          PidFiles pids = new PidFiles(settings.dataDir());
          ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
          ctx.getSystem().receptionist().tell(Receptionist.subscribe(KEY, ctx.messageAdapter(Receptionist.Listing.class, PeersChanged::new)));
          timers.startTimerWithFixedDelay(new Tick(), settings.capacityInterval());
          WorkerPool pool = new WorkerPool(ctx, settings, credentials, node, pids, reportTo, timers);
          pool.open = open;
          return pool;
        }));
  }

  private WorkerPool(
      ActorContext<Command> ctx,
      WorkerSettings settings,
      JobCredentials credentials,
      String node,
      PidFiles pids,
      BiConsumer<String, WorkerReport> reportTo,
      TimerScheduler<Command> timers) {
    super(ctx);
    this.settings = settings;
    this.credentials = credentials;
    this.node = node;
    this.pids = pids;
    this.reportTo = reportTo;
    this.timers = timers;
    // read at a scrape, outside the actor: a plain read of two ints, at worst one message old
    dev.reins.runtime.metrics.ReinsMetrics.get(ctx.getSystem())
        .workerPool(node, settings.slots(), () -> busySlots, queue::size);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(RequestSlot.class, this::onRequest)
        .onMessage(Withdraw.class, this::onWithdraw)
        .onMessage(ProcessGone.class, this::onProcessGone)
        .onMessage(WorkerStopped.class, this::onWorkerStopped)
        .onMessage(GetStatus.class, this::onGetStatus)
        .onMessage(PeersChanged.class, this::onPeersChanged)
        .onMessage(Capacity.class, this::onCapacity)
        .onMessage(Offer.class, this::onOffer)
        .onMessage(OfferTaken.class, t -> {
          Offered o = offered.get(t.runId());
          if (o != null && o.request().attempt() == t.attempt()) {
            offered.remove(t.runId());
          }
          return this;
        })
        .onMessage(OfferDeclined.class, d -> {
          Offered o = offered.get(d.request().runId());
          if (o != null && o.request().attempt() == d.request().attempt()) {
            offered.remove(d.request().runId());
            Capacity c = peers.get(o.to());
            if (c != null) {
              // it had no room after all: believe that until it says otherwise
              peers.put(o.to(), new Capacity(c.node(), c.pool(), c.slots(), c.slots(), c.queued(), c.draining()));
            }
            enqueue(d.request());
          }
          dispatch();
          return this;
        })
        .onMessage(OfferExpired.class, e -> {
          Offered o = offered.get(e.runId());
          if (o != null && o.request().attempt() == e.attempt()) {
            offered.remove(e.runId());
            enqueue(o.request());
            dispatch();
          }
          return this;
        })
        .onMessage(Tick.class, t -> {
          broadcastCapacity();
          dispatch();
          return this;
        })
        .onMessage(Drain.class, this::onDrain)
        .onMessage(Open.class, o -> {
          open = true;
          dispatch();
          return this;
        })
        .onMessage(DrainDeadline.class, d -> {
          stopAllForShutdown();
          return this;
        })
        .build();
  }

  // ---- requests from runs ---------------------------------------------------------------------

  private Behavior<Command> onRequest(RequestSlot r) {
    Active a = active.get(r.runId());
    if (a != null && a.attempt() == r.attempt()) {
      a.worker().tell(new ProcessWorker.Resend());
      return this;
    }
    if (a != null && a.attempt() > r.attempt()) {
      return this; // a request from an older attempt than the one already running
    }
    Offered o = offered.get(r.runId());
    if (o != null && o.request().attempt() >= r.attempt()) {
      return this; // on its way to a peer; the offer's answer or timeout decides
    }
    enqueue(r);
    dispatch();
    return this;
  }

  private void enqueue(RequestSlot r) {
    RequestSlot queued = queuedByRun.get(r.runId());
    if (queued != null && queued.attempt() >= r.attempt()) {
      return;
    }
    if (queued != null) {
      queue.remove(queued);
    }
    queue.add(r);
    queuedByRun.put(r.runId(), r);
  }

  private void dequeue(RequestSlot r) {
    queue.remove(r);
    queuedByRun.remove(r.runId());
  }

  private Behavior<Command> onWithdraw(Withdraw w) {
    RequestSlot queued = queuedByRun.get(w.runId());
    if (queued != null && queued.attempt() == w.attempt()) {
      dequeue(queued);
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
      active.put(g.runId(), new Active(a.attempt(), a.worker(), false, a.grace()));
      busySlots--;
      dispatch();
      broadcastCapacity();
    }
    answerDrainIfDone();
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
      broadcastCapacity();
    }
    answerDrainIfDone();
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus g) {
    List<String> running =
        active.entrySet().stream()
            .filter(e -> e.getValue().processAlive())
            .map(e -> e.getKey() + "#" + e.getValue().attempt())
            .sorted()
            .toList();
    List<String> queued = queue.stream().map(r -> r.runId() + "#" + r.attempt()).toList();
    g.replyTo().tell(new Status(settings.slots(), running, queued, List.copyOf(peers.values())));
    return this;
  }

  // ---- peers ----------------------------------------------------------------------------------

  private Behavior<Command> onPeersChanged(PeersChanged c) {
    var current = c.listing().getServiceInstances(KEY);
    peers.keySet().removeIf(p -> !current.contains(p));
    for (ActorRef<Command> p : current) {
      if (!p.equals(getContext().getSelf()) && !peers.containsKey(p)) {
        // unknown until it speaks; tell it about us at once
        peers.put(p, new Capacity("?", p, 0, 0, 0, false));
        p.tell(capacity());
      }
    }
    // a request offered to a pool that left the cluster comes back here
    List<Offered> lost = offered.values().stream().filter(o -> !peers.containsKey(o.to())).toList();
    for (Offered o : lost) {
      offered.remove(o.request().runId());
      enqueue(o.request());
    }
    dispatch();
    return this;
  }

  private Behavior<Command> onCapacity(Capacity c) {
    if (!c.pool().equals(getContext().getSelf())) {
      peers.put(c.pool(), c);
      dispatch();
    }
    return this;
  }

  private Behavior<Command> onOffer(Offer o) {
    RequestSlot r = o.request();
    boolean free = open && drain == null && busySlots < settings.slots() && !active.containsKey(r.runId());
    if (free || (o.mustQueue() && drain == null)) {
      o.from().tell(new OfferTaken(r.runId(), r.attempt()));
      onRequest(r);
    } else {
      o.from().tell(new OfferDeclined(r));
    }
    return this;
  }

  private Capacity capacity() {
    return new Capacity(node, getContext().getSelf(), settings.slots(), busySlots, queue.size(), drain != null);
  }

  private void broadcastCapacity() {
    Capacity mine = capacity();
    for (ActorRef<Command> p : peers.keySet()) {
      p.tell(mine);
    }
  }

  // ---- placing --------------------------------------------------------------------------------

  /**
   * Starts queued attempts here, oldest first, while slots are free; then offers what is left to
   * peers with free slots (all of it, to any live peer, while this node drains).
   */
  private void dispatch() {
    if (!open) {
      return;
    }
    if (drain == null) {
      Iterator<RequestSlot> it = queue.iterator();
      while (busySlots < settings.slots() && it.hasNext()) {
        RequestSlot r = it.next();
        if (active.containsKey(r.runId())) {
          continue; // an older attempt's worker is still around: one process per run at a time
        }
        it.remove();
        queuedByRun.remove(r.runId());
        startWorker(r);
      }
    }
    offerToPeers();
  }

  private void offerToPeers() {
    Iterator<RequestSlot> it = queue.iterator();
    while (it.hasNext()) {
      RequestSlot r = it.next();
      if (active.containsKey(r.runId()) && drain == null) {
        continue; // must wait for its own older process here
      }
      Optional<Capacity> target = peers.values().stream()
          .filter(c -> !c.draining() && !c.node().equals("?"))
          .filter(c -> drain != null || c.free() > 0)
          .max(Comparator.comparingInt(Capacity::free));
      if (target.isEmpty()) {
        return;
      }
      Capacity c = target.get();
      it.remove();
      queuedByRun.remove(r.runId());
      offered.put(r.runId(), new Offered(r, c.pool()));
      c.pool().tell(new Offer(r, drain != null, getContext().getSelf()));
      timers.startSingleTimer("offer-" + r.runId(), new OfferExpired(r.runId(), r.attempt()), settings.offerTimeout());
      peers.put(c.pool(), new Capacity(c.node(), c.pool(), c.slots(), c.busy() + 1, c.queued(), c.draining()));
    }
  }

  private void startWorker(RequestSlot r) {
    ActorRef<ProcessWorker.Command> worker =
        getContext()
            .spawn(
                ProcessWorker.create(
                    r.runId(), r.tenant(), r.attempt(), r.spec(), node, settings, credentials, pids, reportTo, getContext().getSelf()),
                "run-" + r.runId() + "-" + r.attempt(),
                DispatcherSelector.fromConfig("reins.worker.dispatcher"));
    getContext().watchWith(worker, new WorkerStopped(r.runId(), r.attempt()));
    active.put(r.runId(), new Active(r.attempt(), worker, true, Duration.ofSeconds(r.spec().cancelGraceSeconds())));
    busySlots++;
  }

  // ---- draining -------------------------------------------------------------------------------

  private Behavior<Command> onDrain(Drain d) {
    if (drain != null) {
      // a second ask (a downed node kills first, then its shutdown drains): the same answer
      drainWaiters.add(d.replyTo());
      answerDrainIfDone();
      return this;
    }
    drain = d;
    getContext().getLog().info("draining: {} attempt(s) running, {} queued; running ones get until {}",
        busySlots, queue.size(), d.deadline());
    broadcastCapacity();
    offerToPeers();
    Duration left = Duration.between(Instant.now(), d.deadline());
    if (d.kill()) {
      stopAllForShutdown();
    } else {
      timers.startSingleTimer(new DrainDeadline(), left.isNegative() ? Duration.ZERO : left);
    }
    answerDrainIfDone();
    return this;
  }

  private void stopAllForShutdown() {
    for (Active a : active.values()) {
      if (a.processAlive()) {
        stoppedByDrain++;
        Duration grace = drain != null && drain.kill() ? Duration.ZERO : a.grace();
        a.worker().tell(new ProcessWorker.Stop(a.attempt(), grace, ProcessWorker.NODE_SHUTDOWN));
      }
    }
  }

  /**
   * A drain is done once every worker is gone (their runs have recorded how their attempts ended);
   * a kill once every process is gone (a downed node's runs may not hear from it again).
   */
  private void answerDrainIfDone() {
    if (drain == null
        || !(active.isEmpty() || (drain.kill() && active.values().stream().noneMatch(Active::processAlive)))) {
      return;
    }
    if (!drainAnswered) {
      drainAnswered = true;
      drain.replyTo().tell(new Drained(stoppedByDrain));
    }
    drainWaiters.forEach(w -> w.tell(new Drained(stoppedByDrain)));
    drainWaiters.clear();
  }

}
