package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.run.RunSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Placing attempts across the pools of several nodes, and draining one. The pools are real and
 * run real processes; they find each other through the receptionist exactly as across a cluster,
 * here within one local actor system (each with its own node name and data directory). A probe
 * registered under {@link WorkerPool#KEY} plays a peer where a test needs to decide its answers.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WorkerPlacementTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  /** How long a test listens to be sure that something does not happen (not a timing claim). */
  private static final Duration QUIET = Duration.ofMillis(500);
  private static final Config CONFIG =
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load());
  private static final RunSpec SLEEP = ProcessWorkerTest.spec(List.of("sleep", "600"), Map.of(), null);
  private static final RunSpec QUICK = ProcessWorkerTest.spec(List.of("sh", "-c", "exit 0"), Map.of(), null);
  private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");

  private final ActorTestKit kit = ActorTestKit.create("WorkerPlacementTest", CONFIG);
  private final String prefix = "wplt-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  private final List<String> runIds = new ArrayList<>();
  /** What a test started that must stop before the next test: pools and peer probes. */
  private final List<Runnable> stops = new ArrayList<>();
  private RunReports reports;
  private Path dir;

  @BeforeEach
  void newTest(@TempDir Path dir) {
    this.dir = dir;
    reports = new RunReports(kit);
  }

  @AfterEach
  void stopPools() {
    stops.forEach(Runnable::run);
    stops.clear();
    runIds.forEach(RunProcesses::killAll);
  }

  @AfterAll
  void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void aPoolWithoutAFreeSlotOffersItsWaitingRequestToAPeerWithOneAndThePeerRunsIt() {
    ActorRef<WorkerPool.Command> a = pool("node-a", 1);
    ActorRef<WorkerPool.Command> b = pool("node-b", 1);
    String busy = request(a, SLEEP, T0);
    WorkerReport.Started onA = reports.next(WorkerReport.Started.class, busy, WAIT);
    RunReports.ack(onA);
    assertEquals("node-a", onA.node());

    String moved = request(a, SLEEP, T0.plusSeconds(1));

    WorkerReport.Claim claim = reports.next(WorkerReport.Claim.class, moved, WAIT);
    assertEquals("node-b", claim.node());
    WorkerReport.Started onB = reports.next(WorkerReport.Started.class, moved, WAIT);
    RunReports.ack(onB);
    assertEquals("node-b", onB.node());
    assertEquals(List.of(busy + "#1"), status(a).running());
    assertEquals(List.of(), status(a).queued());
    assertEquals(List.of(moved + "#1"), status(b).running());
  }

  @Test
  void anOfferThePeerDeclinesOrNeverAnswersGoesBackIntoTheQueueInItsPlace() {
    ActorRef<WorkerPool.Command> a = pool("node-a", 1);
    String busy = request(a, SLEEP, T0);
    RunReports.ack(reports.next(WorkerReport.Started.class, busy, WAIT));
    TestProbe<WorkerPool.Command> peer = kit.createTestProbe();
    kit.system().receptionist().tell(Receptionist.register(WorkerPool.KEY, peer.ref()));
    stops.add(peer::stop);
    // the pool has found the peer (it introduces itself), but knows nothing of its slots yet
    assertEquals("node-a", next(peer, WorkerPool.Capacity.class).node());

    String newest = request(a, QUICK, T0.plusSeconds(30));
    String middle = request(a, QUICK, T0.plusSeconds(20));
    String oldest = request(a, QUICK, T0.plusSeconds(10));
    List<String> inOrder = List.of(oldest + "#1", middle + "#1", newest + "#1");
    assertEquals(inOrder, status(a).queued());

    // the peer says it has a free slot: the oldest request is offered to it
    a.tell(new WorkerPool.Capacity("node-p", peer.ref(), 1, 0, 0, false));
    WorkerPool.Offer offer = next(peer, WorkerPool.Offer.class);
    assertEquals(oldest, offer.request().runId());
    assertEquals(T0.plusSeconds(10), offer.request().pendingSince());
    assertFalse(offer.mustQueue());
    assertEquals(List.of(middle + "#1", newest + "#1"), status(a).queued());

    offer.from().tell(new WorkerPool.OfferDeclined(offer.request()));
    awaitAssert(() -> assertEquals(inOrder, status(a).queued()));

    // it says so again, takes the offer but never answers: the request comes back after the
    // offer timeout
    a.tell(new WorkerPool.Capacity("node-p", peer.ref(), 1, 0, 0, false));
    assertEquals(oldest, next(peer, WorkerPool.Offer.class).request().runId());
    awaitAssert(() -> assertEquals(inOrder, status(a).queued()));

    // and the requests start here as the slot frees, oldest first
    assertTrue(reports.arrived().stream().noneMatch(r -> r instanceof WorkerReport.Claim && r.runId().equals(oldest)));
    a.tell(new WorkerPool.Withdraw(busy, 1, Duration.ofSeconds(10)));
    RunReports.ack(reports.next(WorkerReport.Exited.class, busy, WAIT));
    WorkerReport.Started first = reports.next(WorkerReport.Started.class, oldest, WAIT);
    assertEquals("node-a", first.node());
    RunReports.ack(first);
  }

  @Test
  void aDownedNodesPoolKillsItsProcessesAtOnceAndAnswersOnceTheyAreGoneWithoutWaitingForItsRuns() {
    ActorRef<WorkerPool.Command> a = pool("node-a", 2);
    // a process that ignores TERM: only a KILL ends it, and the run's grace (10 s) is not waited for
    RunSpec stubborn = ProcessWorkerTest.spec(List.of("sh", "-c", "trap '' TERM; sleep 600"), Map.of(), null);
    String first = request(a, stubborn, T0);
    String second = request(a, SLEEP, T0.plusSeconds(1));
    WorkerReport.Started one = reports.next(WorkerReport.Started.class, first, WAIT);
    WorkerReport.Started two = reports.next(WorkerReport.Started.class, second, WAIT);
    RunReports.ack(one);
    RunReports.ack(two);

    TestProbe<WorkerPool.Drained> killed = kit.createTestProbe();
    a.tell(new WorkerPool.Drain(Instant.now().plusSeconds(30), true, killed.ref()));
    WorkerReport.Exited exited = reports.next(WorkerReport.Exited.class, first, WAIT);
    assertEquals("KILL", exited.signal());
    assertEquals(ProcessWorker.NODE_SHUTDOWN, exited.interruption());
    // the runs are on the other side of the partition: the answer does not wait for their acks
    assertEquals(new WorkerPool.Drained(2), killed.receiveMessage(WAIT));
    assertFalse(ProcessHandle.of(one.pid()).map(ProcessHandle::isAlive).orElse(false));
    assertFalse(ProcessHandle.of(two.pid()).map(ProcessHandle::isAlive).orElse(false));

    // the shutdown's own drain that follows gets the same answer at once
    TestProbe<WorkerPool.Drained> drained = kit.createTestProbe();
    a.tell(new WorkerPool.Drain(Instant.now().plusSeconds(30), drained.ref()));
    assertEquals(new WorkerPool.Drained(2), drained.receiveMessage(WAIT));
  }

  @Test
  void aDrainingPoolHandsItsQueueToAPeerLetsAttemptsEndUntilTheDeadlineThenStopsTheRestAsInterrupted()
      throws IOException {
    ActorRef<WorkerPool.Command> b = pool("node-b", 1);
    String blocker = request(b, SLEEP, T0);
    WorkerReport.Started blocking = reports.next(WorkerReport.Started.class, blocker, WAIT);
    RunReports.ack(blocking);
    ActorRef<WorkerPool.Command> a = pool("node-a", 2);
    // a knows b is full, so it keeps what it cannot start
    awaitAssert(() -> assertTrue(status(a).peers().stream().anyMatch(c -> c.node().equals("node-b") && c.busy() == 1),
        status(a).peers().toString()));

    Path go = dir.resolve("go");
    String finishing = request(a, ProcessWorkerTest.spec(
        List.of("sh", "-c", "while [ ! -e \"$GO\" ]; do sleep 0.1; done"), Map.of("GO", go.toString()), null), T0.plusSeconds(1));
    String lasting = request(a, SLEEP, T0.plusSeconds(2));
    String waiting = request(a, QUICK, T0.plusSeconds(3));
    RunReports.ack(reports.next(WorkerReport.Started.class, finishing, WAIT));
    RunReports.ack(reports.next(WorkerReport.Started.class, lasting, WAIT));
    assertEquals(List.of(waiting + "#1"), status(a).queued());

    TestProbe<WorkerPool.Drained> drained = kit.createTestProbe();
    a.tell(new WorkerPool.Drain(Instant.now().plusSeconds(10), drained.ref()));

    // the waiting request goes to the peer, which queues it although it has no free slot
    awaitAssert(() -> assertEquals(List.of(waiting + "#1"), status(b).queued()));
    assertEquals(List.of(), status(a).queued());

    // an attempt that ends before the deadline ends as usual
    Files.createFile(go);
    WorkerReport.Exited finished = reports.next(WorkerReport.Exited.class, finishing, WAIT);
    assertEquals(0, finished.code());
    assertNull(finished.interruption());
    RunReports.ack(finished);

    // with a slot free again the draining pool starts nothing: what comes now goes to the peer
    String late = request(a, QUICK, T0.plusSeconds(4));
    awaitAssert(() -> assertEquals(List.of(waiting + "#1", late + "#1"), status(b).queued()));
    assertEquals(List.of(lasting + "#1"), status(a).running());

    // at the deadline, what still runs is stopped as interrupted by the shutdown
    WorkerReport.Exited stopped = reports.next(WorkerReport.Exited.class, lasting, WAIT);
    assertEquals("TERM", stopped.signal());
    assertEquals(ProcessWorker.NODE_SHUTDOWN, stopped.interruption());
    // the pool is drained when its last worker is gone, and a worker waits for its run's ack
    drained.expectNoMessage(QUIET);
    RunReports.ack(stopped);
    assertEquals(new WorkerPool.Drained(1), drained.receiveMessage(WAIT));

    // the peer runs what it was handed, in order, as its slot frees
    blocking.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(10)));
    RunReports.ack(reports.next(WorkerReport.Exited.class, blocker, WAIT));
    WorkerReport.Started handedOver = reports.next(WorkerReport.Started.class, waiting, WAIT);
    assertEquals("node-b", handedOver.node());
    RunReports.ack(handedOver);
    RunReports.ack(reports.next(WorkerReport.Exited.class, waiting, WAIT));
    WorkerReport.Started lateOnB = reports.next(WorkerReport.Started.class, late, WAIT);
    assertEquals("node-b", lateOnB.node());
    RunReports.ack(lateOnB);
  }

  // ---- helpers --------------------------------------------------------------------------------

  /**
   * A pool of its own node, in a data directory of its own (a pool reaps what it finds there).
   * Claims and reports are repeated rarely; pools tell each other their slots often; an offer not
   * answered within a second goes back to the queue.
   */
  private ActorRef<WorkerPool.Command> pool(String node, int slots) {
    Path dataDir = dir.resolve(node);
    WorkerSettings settings =
        new WorkerSettings(slots, 1 << 20, Duration.ofMinutes(1), Duration.ofMinutes(10), dataDir, "http://127.0.0.1:1",
            List.of(), Duration.ofSeconds(30), Duration.ofSeconds(1), Duration.ofMillis(200));
    ActorRef<WorkerPool.Command> pool = kit.spawn(WorkerPool.create(settings, JobCredentials.NONE, node, reports.sink()), node);
    stops.add(() -> kit.stop(pool));
    return pool;
  }

  private String request(ActorRef<WorkerPool.Command> pool, RunSpec spec, Instant pendingSince) {
    String runId = prefix + runIds.size();
    runIds.add(runId);
    pool.tell(new WorkerPool.RequestSlot(runId, Tenants.DEFAULT, 1, spec, pendingSince));
    return runId;
  }

  private WorkerPool.Status status(ActorRef<WorkerPool.Command> pool) {
    TestProbe<WorkerPool.Status> probe = kit.createTestProbe();
    pool.tell(new WorkerPool.GetStatus(probe.ref()));
    return probe.receiveMessage(WAIT);
  }

  /** The next message of {@code type} a peer probe gets, past the capacity news pools keep sending. */
  private static <M extends WorkerPool.Command> M next(TestProbe<WorkerPool.Command> peer, Class<M> type) {
    while (true) {
      WorkerPool.Command m = peer.receiveMessage(WAIT);
      if (type.isInstance(m)) {
        return type.cast(m);
      }
      assertTrue(m instanceof WorkerPool.Capacity, "unexpected " + m);
    }
  }

  private void awaitAssert(Runnable assertion) {
    kit.createTestProbe().awaitAssert(WAIT, () -> {
      assertion.run();
      return null;
    });
  }
}
