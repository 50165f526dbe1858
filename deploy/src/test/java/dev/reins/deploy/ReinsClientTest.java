package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.reins.client.ReinsApiException;
import dev.reins.client.ReinsClient;
import dev.reins.client.RunQuery;
import dev.reins.protocol.api.ClusterView;
import dev.reins.protocol.api.CreateDelegationRequest;
import dev.reins.protocol.api.DelegationView;
import dev.reins.protocol.api.RunPage;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.api.StoredEvent;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RunStatus;
import dev.reins.http.TestServer;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The Java client against a running server: typed runs, pages, events and delegations, the
 * server's problems as {@link ReinsApiException}s, and {@code watch} following a run to its end.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReinsClientTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);

  private TestServer server;
  private ReinsClient client;
  private final List<String> toCancel = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
    client = ReinsClient.builder(URI.create("http://127.0.0.1:" + server.port())).token(TestServer.ADMIN_TOKEN).build();
  }

  @AfterAll
  void stop() throws Exception {
    server.closeAfterCancelling(toCancel.toArray(String[]::new));
  }

  private static SubmitRunRequest run(String label, String key, String... command) {
    return new SubmitRunRequest(new SubmitRunRequest.Executor(null, List.of(command), null, null), null, null, null,
        Map.of("suite", label), key);
  }

  @Test
  void submitGetListAndTheJournalAreTyped() {
    String label = UUID.randomUUID().toString();
    ReinsClient.Submitted first = client.submit(run(label, "key-1", "sh", "-c", "echo typed"));
    ReinsClient.Submitted again = client.submit(run(label, "key-1", "sh", "-c", "echo typed"));
    assertTrue(first.created());
    assertFalse(again.created());
    assertEquals(first.run().id(), again.run().id());
    ReinsClient.Submitted other = client.submit(run(label, null, "true"));

    RunView ended = client.watch(first.run().id(), 0, e -> { });
    assertEquals(RunStatus.SUCCEEDED, ended.state());
    assertEquals(0, ended.exit().code());
    assertEquals(List.of("sh", "-c", "echo typed"), ((ProcessSpec) client.get(ended.id()).executor()).command());
    assertTrue(client.logs(ended.id(), 1, null).contains("typed"));

    List<StoredEvent> events = client.events(ended.id());
    assertEquals("RunSubmitted", events.get(0).type());
    assertEquals(ended.version(), events.get(events.size() - 1).seq());

    client.watch(other.run().id(), 0, e -> { });
    TestServer.awaitAssert(PATIENCE, () -> {
      RunPage page = client.list(RunQuery.all().withLabel("suite", label).withLimit(1));
      assertEquals(1, page.runs().size());
      RunPage next = client.list(RunQuery.all().withLabel("suite", label).withLimit(1).withCursor(page.next()));
      assertEquals(List.of(first.run().id(), other.run().id()), List.of(page.runs().get(0).id(), next.runs().get(0).id()));
      assertEquals(RunStatus.SUCCEEDED, next.runs().get(0).state());
      assertNull(client.list(RunQuery.all().withLabel("suite", label).withCursor(next.next())).next());
    });
  }

  @Test
  void refusalsCarryTheServersProblem() {
    ReinsApiException missing = assertThrows(ReinsApiException.class, () -> client.get(UUID.randomUUID().toString()));
    assertEquals(404, missing.status());
    assertEquals("not-found", missing.problem().kind());

    ReinsApiException invalid = assertThrows(ReinsApiException.class, () -> client.submit(run("x", null, " ")));
    assertEquals(400, invalid.status());
    assertEquals("executor.command[0]", invalid.problem().field());

    ReinsClient stranger = ReinsClient.builder(URI.create("http://127.0.0.1:" + server.port())).token("nope").build();
    assertEquals(401, assertThrows(ReinsApiException.class, stranger::cluster).status());
  }

  @Test
  void watchFollowsARunLiveUntilItEndsAndResumesAfterAGivenEvent() throws Exception {
    String id = client.submit(run("watch", null, "sleep", "600")).run().id();
    toCancel.add(id);
    server.awaitState(id, "running", PATIENCE);
    List<StoredEvent> seen = new ArrayList<>();
    Thread watcher = new Thread(() -> client.watch(id, 0, seen::add));
    watcher.start();
    TestServer.awaitAssert(PATIENCE, () -> assertTrue(seen.stream().anyMatch(e -> e.type().equals("AttemptStarted"))));

    ReinsClient.Cancelled cancelled = client.cancel(id, "from the client", Duration.ofSeconds(20));
    assertEquals("changed", cancelled.outcome());
    assertEquals(RunStatus.CANCELLED, cancelled.run().state());
    watcher.join(PATIENCE.toMillis());
    assertFalse(watcher.isAlive());
    for (int i = 0; i < seen.size(); i++) {
      assertEquals(i + 1, seen.get(i).seq());
    }
    assertEquals(cancelled.run().version(), seen.get(seen.size() - 1).seq());

    List<StoredEvent> rest = new ArrayList<>();
    RunView end = client.watch(id, seen.size() - 1, rest::add);
    assertEquals(List.of(seen.get(seen.size() - 1)), rest);
    assertEquals(RunStatus.CANCELLED, end.state());
    assertEquals("already_terminal", client.cancel(id, null, null).outcome());

    RunView reset = client.reset(id, null);
    assertEquals(RunStatus.PENDING, reset.state());
    assertEquals(2, reset.attempt());
    assertEquals(409, assertThrows(ReinsApiException.class, () -> client.reset(id, null)).status());
  }

  @Test
  void delegationsAndCluster() throws Exception {
    String parent = client.submit(run("delegations", null, "sleep", "600")).run().id();
    toCancel.add(parent);
    server.awaitState(parent, "running", PATIENCE);
    CreateDelegationRequest child = new CreateDelegationRequest(new CreateDelegationRequest.Target("run", null, null,
        new SubmitRunRequest.Executor(null, List.of("sleep", "600"), null, null), null), null, "child-1", null);
    DelegationView created = client.delegate(parent, child);
    assertEquals(created.id(), client.delegate(parent, child).id());
    assertEquals(List.of(created.id()), client.delegations(parent).stream().map(DelegationView::id).toList());
    client.cancelDelegation(parent, created.id());
    assertEquals(DelegationStatus.CANCELLED, client.delegation(parent, created.id(), Duration.ofSeconds(30)).state());

    ClusterView cluster = client.cluster();
    assertEquals(1, cluster.members().size());
    assertTrue(cluster.members().get(0).self());
    assertEquals("up", cluster.members().get(0).status());
  }
}
