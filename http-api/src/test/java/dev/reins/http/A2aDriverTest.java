package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.runtime.delegation.A2aAllowlist;
import dev.reins.runtime.delegation.A2aClient;
import dev.reins.runtime.delegation.A2aDriver;
import dev.reins.runtime.delegation.A2aSettings;
import dev.reins.runtime.delegation.DelegationDriver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The A2A driver alone against the JS SDK peer: what the entity relies on when the journal and
 * the peer disagree (a crash between sending and journaling), and a cancel that the peer ignores.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class A2aDriverTest {
  private ActorTestKit kit;
  private A2aPeer peer;
  private A2aDriver driver;

  @BeforeAll
  void start() throws Exception {
    kit = ActorTestKit.create();
    peer = A2aPeer.start();
    A2aSettings settings = new A2aSettings(new A2aAllowlist("http://127.0.0.1,http://reins-no-such-host.invalid"), Duration.ofSeconds(10), Duration.ofMillis(20),
        Duration.ofSeconds(1), 16 * 1024 * 1024, List.of());
    driver = new A2aDriver(new A2aClient(kit.system(), settings), Clock.systemUTC());
  }

  @AfterAll
  void stop() {
    peer.close();
    kit.shutdownTestKit();
  }

  @Test
  void aDriverThatFindsNoJournaledTaskAdoptsTheOneItsDelegationAlreadySent() throws Exception {
    DelegationState state = state("{\"waitForRelease\":true}");
    TestProbe<DelegationDriver.Report> first = kit.createTestProbe();
    ActorRef<DelegationDriver.Command> one = kit.spawn(driver.create(state, first.getRef()));
    String taskId = first.expectMessageClass(DelegationDriver.Started.class, Duration.ofSeconds(10)).remoteId();
    // the node dies before the entity journals the task id: the next driver starts from the same state
    kit.stop(one);
    TestProbe<DelegationDriver.Report> second = kit.createTestProbe();
    kit.spawn(driver.create(state, second.getRef()));
    assertEquals(taskId, second.expectMessageClass(DelegationDriver.Started.class, Duration.ofSeconds(10)).remoteId(),
        "the second driver adopts the task the first one sent");
    assertEquals(1, sentBy(state.delegationId()), "the peer saw one task for this delegation");
    assertTrue(peer.release() >= 1);
    DelegationDriver.Completed done = next(second, DelegationDriver.Completed.class, Duration.ofSeconds(10));
    assertFalse(done.result().parts().isEmpty());
  }

  @Test
  void aCancelThatThePeerIgnoresEndsUnconfirmedWithinItsBound() throws Exception {
    DelegationState state = state("{\"workMs\":600000,\"ignoreCancel\":true}");
    TestProbe<DelegationDriver.Report> probe = kit.createTestProbe();
    ActorRef<DelegationDriver.Command> d = kit.spawn(driver.create(state, probe.getRef()));
    String taskId = probe.expectMessageClass(DelegationDriver.Started.class, Duration.ofSeconds(10)).remoteId();
    d.tell(new DelegationDriver.CancelRemote(Duration.ofMillis(500)));
    DelegationDriver.CancelOutcome outcome = next(probe, DelegationDriver.CancelOutcome.class, Duration.ofSeconds(3));
    assertFalse(outcome.confirmed(), outcome.toString());
    assertTrue(A2aDelegationTest.cancelsOf(peer, taskId) >= 1, "the peer was asked to cancel");
  }

  @Test
  void aHostNameThatDoesNotResolveFailsAsSuch() throws Exception {
    DelegationState state = state("{}", "http://reins-no-such-host.invalid/");
    TestProbe<DelegationDriver.Report> probe = kit.createTestProbe();
    kit.spawn(driver.create(state, probe.getRef()));
    DelegationDriver.Failed failed = next(probe, DelegationDriver.Failed.class, Duration.ofSeconds(20));
    assertEquals("dns_failure", failed.reason(), failed.toString());
  }

  /** The next report of type {@code type}, skipping state changes on the way. */
  private static <T> T next(TestProbe<DelegationDriver.Report> probe, Class<T> type, Duration within) {
    Instant end = Instant.now().plus(within);
    while (true) {
      Duration left = Duration.between(Instant.now(), end);
      DelegationDriver.Report r = probe.receiveMessage(left.isNegative() ? Duration.ZERO : left);
      if (type.isInstance(r)) {
        return type.cast(r);
      }
      if (!(r instanceof DelegationDriver.StateChanged)) {
        throw new AssertionError("expected " + type.getSimpleName() + " but got " + r);
      }
    }
  }

  private int sentBy(String delegationId) throws Exception {
    int n = 0;
    for (JsonNode t : peer.log().path("tasks")) {
      n += t.path("messageId").asText().equals(A2aDriver.messageId(delegationId)) ? 1 : 0;
    }
    return n;
  }

  private DelegationState state(String data) throws Exception {
    return state(data, peer.url());
  }

  private DelegationState state(String data, String url) throws Exception {
    String id = UUID.randomUUID().toString();
    Instant now = Instant.now();
    DelegationSpec spec = new DelegationSpec(new DelegationTarget.A2a(url,
        new DelegationTarget.Message("driver test", ReinsJson.mapper().readTree(data))), 60, DelegationSpec.OnParentEnd.CANCEL, null);
    return new DelegationState(id, "run-" + id, null, spec, DelegationStatus.PENDING, now.plusSeconds(60), now, now, null, null, null,
        null, null, null, false);
  }
}
