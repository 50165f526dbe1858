package dev.reins.persistence;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.persistence.TestDatabases.Backend;
import dev.reins.persistence.TestDatabases.TestDatabase;
import dev.reins.protocol.api.StoredEvent;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import dev.reins.protocol.run.WorkerInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A run's journal written by an event-sourced behavior configured like the run entity, read back
 * through {@link RunJournal}, on the embedded H2 database and on PostgreSQL. Every test uses its
 * own run id; each backend gets its own actor system and empty database for the class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunJournalTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** The stable names of {@link #script}'s events, in order: the journal format. */
  private static final List<String> SCRIPT_TYPES = List.of(
      "RunSubmitted", "AttemptStarted", "CancelRequested", "AttemptExited", "RunReset",
      "AttemptStartFailed", "AttemptStarted", "WorkerLost", "AttemptStarted", "TimeoutReached",
      "AttemptExited");

  private final Map<Backend, Node> nodes = new EnumMap<>(Backend.class);

  /** One backend's database, actor system and journal reader. */
  private record Node(TestDatabase db, ActorTestKit kit, RunJournal journal) {}

  @AfterAll
  void shutDown() {
    for (Node node : nodes.values()) {
      try {
        node.kit().shutdownTestKit();
      } finally {
        node.db().close();
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void eventsComeBackInOrderUnderTheirStableNames(Backend backend) throws Exception {
    Node node = node(backend);
    String runId = newRunId();
    List<RunEvent> script = record(node, runId).script();

    List<StoredEvent> events = await(node.journal().events(runId));

    assertEquals(SCRIPT_TYPES, events.stream().map(StoredEvent::type).toList());
    for (int i = 0; i < script.size(); i++) {
      StoredEvent stored = events.get(i);
      RunEvent event = script.get(i);
      ObjectNode expected = ReinsJson.mapper().valueToTree(event);
      expected.remove("type");
      assertEquals(i + 1, stored.seq());
      assertEquals(event.at(), stored.at());
      assertFalse(stored.data().has("type"), "the type is said once, outside the data: " + stored.data());
      assertEquals(expected, stored.data());
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void replayAtEverySequenceNumberIsTheFoldOfTheEventsUpToIt(Backend backend) throws Exception {
    Node node = node(backend);
    String runId = newRunId();
    List<RunEvent> script = record(node, runId).script();

    for (int k = 0; k <= script.size(); k++) {
      assertEquals(new RunJournal.Replayed(fold(script.subList(0, k)), k), await(node.journal().replay(runId, k)),
          "replay to " + k);
    }
    assertEquals(new RunJournal.Replayed(fold(script), script.size()),
        await(node.journal().replay(runId, Long.MAX_VALUE)));
    assertEquals(RunStatus.TIMED_OUT, fold(script).status(), "the script ends in a timeout");
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void aRestartedRunRecoversTheSameStateFromItsLatestSnapshot(Backend backend) throws Exception {
    Node node = node(backend);
    String runId = newRunId();
    Recorded recorded = record(node, runId);
    List<RunEvent> script = recorded.script();
    TestProbe<Object> probe = node.kit().createTestProbe();
    // Snapshots after events 3, 6 and 9; the two latest are kept.
    probe.awaitAssert(TIMEOUT, () -> {
      assertEquals(List.of(6L, 9L), snapshotSequenceNrs(node.db().journal(), runId));
      return null;
    });

    node.kit().stop(recorded.run(), TIMEOUT);
    ActorRef<ScriptedRun.Command> restarted = node.kit().spawn(ScriptedRun.create(runId));
    TestProbe<ScriptedRun.Current> current = node.kit().createTestProbe();
    restarted.tell(new ScriptedRun.GetState(current.ref()));

    ScriptedRun.Current recovered = current.receiveMessage(TIMEOUT);
    assertEquals(fold(script), recovered.state());
    assertEquals(script.size(), recovered.sequenceNr());
    assertEquals(2, recovered.applied(), "recovery starts at the snapshot of event 9 and replays 10 and 11");

    // The journal goes on where it stopped: the next event is number 12, not a duplicate key.
    TestProbe<ScriptedRun.Persisted> persisted = node.kit().createTestProbe();
    restarted.tell(new ScriptedRun.Persist(new RunEvent.RunReset(5, at(600)), persisted.ref()));
    ScriptedRun.Persisted reset = persisted.receiveMessage(TIMEOUT);
    assertEquals(script.size() + 1, reset.sequenceNr());
    assertEquals(RunStatus.PENDING, reset.state().status());
    assertEquals(5, reset.state().attempt());
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void theJournalStoresStableNamesNotClassNames(Backend backend) throws Exception {
    Node node = node(backend);
    String runId = newRunId();
    record(node, runId);
    List<String> types = new ArrayList<>();
    String sql = "SELECT \"event_ser_id\", \"event_ser_manifest\", \"event_payload\" FROM \"event_journal\""
        + " WHERE \"persistence_id\" = ? ORDER BY \"sequence_number\"";
    try (Connection c = JournalSchema.connect(node.db().journal()); PreparedStatement s = c.prepareStatement(sql)) {
      s.setString(1, RunJournal.persistenceId(runId));
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          String manifest = rs.getString("event_ser_manifest");
          String payload = new String(rs.getBytes("event_payload"), StandardCharsets.UTF_8);
          assertEquals(7311, rs.getInt("event_ser_id"), "serialized by reins-event");
          // A class name here would tie old journals to today's class names.
          assertNoClassName(manifest);
          assertNoClassName(payload);
          types.add(ReinsJson.mapper().readTree(payload).path("type").asText());
        }
      }
    }
    assertEquals(SCRIPT_TYPES, types);

    assertSnapshotsHaveNoClassNames(node, runId);
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void everyRunEventJoinsTheGlobalTaggedFeed(Backend backend) throws Exception {
    Node node = node(backend);
    String runId = newRunId();
    List<RunEvent> script = record(node, runId).script();
    JdbcReadJournal readJournal = PersistenceQuery.get(node.kit().system())
        .getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());

    List<EventEnvelope> tagged = await(readJournal.currentEventsByTag(JournalTags.sliceOf(RunJournal.persistenceId(runId)), Offset.noOffset())
        .filter(e -> e.persistenceId().equals(RunJournal.persistenceId(runId)))
        .runWith(Sink.seq(), node.kit().system()));

    assertEquals(script, tagged.stream().map(EventEnvelope::event).toList());
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void anUnknownRunHasNoEventsAndNoState(Backend backend) throws Exception {
    Node node = node(backend);
    String runId = newRunId();

    assertEquals(List.of(), await(node.journal().events(runId)));
    RunJournal.Replayed replayed = await(node.journal().replay(runId, Long.MAX_VALUE));
    assertEquals(new RunJournal.Replayed(RunState.EMPTY, 0), replayed);
    assertFalse(replayed.state().exists());
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Backend.class)
  void pingAnswersWhileTheDatabaseDoes(Backend backend) throws Exception {
    assertTrue(await(node(backend).journal().ping(Duration.ofSeconds(5))));
  }

  // --- the script: one run's life, with every kind of event --------------------------------------

  private static List<RunEvent> script(String runId) {
    RunSpec spec = new RunSpec(
        new ProcessSpec(List.of("python3", "train.py", "--epochs", "3"), Map.of("SEED", "7"), null),
        3600, 10, new RetryPolicy(4, 30), Map.of("team", "search"), "submit-" + runId);
    return List.of(
        new RunEvent.RunSubmitted(runId, spec, 1, at(0)),
        new RunEvent.AttemptStarted(1, worker("node-a", 4101), at(1)),
        new RunEvent.CancelRequested(1, "wrong dataset", at(20)),
        new RunEvent.AttemptExited(1, null, "SIGTERM", at(22)),
        new RunEvent.RunReset(2, at(60)),
        new RunEvent.AttemptStartFailed(2, "python3: No such file or directory", at(61)),
        new RunEvent.AttemptStarted(3, worker("node-b", 5202), at(91)),
        new RunEvent.WorkerLost(3, "node-b", at(150)),
        new RunEvent.AttemptStarted(4, worker("node-a", 4303), at(181)),
        new RunEvent.TimeoutReached(4, at(3781)),
        new RunEvent.AttemptExited(4, null, "SIGKILL", at(3791)));
  }

  private static Instant at(long seconds) {
    return Instant.parse("2025-03-01T09:00:00.250Z").plusSeconds(seconds);
  }

  private static WorkerInfo worker(String host, long pid) {
    return new WorkerInfo(host, pid, "pekko://reins@" + host + ":25520/user/workers/slot-1#" + pid);
  }

  private static RunState fold(List<RunEvent> events) {
    RunState state = RunState.EMPTY;
    for (RunEvent e : events) {
      state = state.apply(e);
    }
    return state;
  }

  // --- fixtures ------------------------------------------------------------------------------------

  private record Recorded(ActorRef<ScriptedRun.Command> run, List<RunEvent> script) {}

  /** Journals the script for {@code runId}, one event at a time, each confirmed after its write. */
  private static Recorded record(Node node, String runId) {
    ActorRef<ScriptedRun.Command> run = node.kit().spawn(ScriptedRun.create(runId));
    TestProbe<ScriptedRun.Persisted> probe = node.kit().createTestProbe();
    List<RunEvent> script = script(runId);
    for (int i = 0; i < script.size(); i++) {
      run.tell(new ScriptedRun.Persist(script.get(i), probe.ref()));
      assertEquals(i + 1, probe.receiveMessage(TIMEOUT).sequenceNr());
    }
    return new Recorded(run, script);
  }

  private synchronized Node node(Backend backend) throws Exception {
    Node node = nodes.get(backend);
    if (node == null) {
      Path dataDir = Files.createTempDirectory("reins-run-journal-" + backend.name().toLowerCase());
      TestDatabase db = TestDatabases.fresh(backend, dataDir);
      try {
        JournalSchema.createIfMissing(db.journal());
        Config config = ConfigFactory.parseString("pekko.actor.provider = local")
            .withFallback(db.journal().pekkoConfig())
            .withFallback(TestDatabases.config(dataDir, "", "", ""))
            .resolve();
        ActorTestKit kit = ActorTestKit.create("RunJournalTest-" + backend, config);
        node = new Node(db, kit, new RunJournal(kit.system()));
      } catch (RuntimeException | Error e) {
        db.close();
        throw e;
      }
      nodes.put(backend, node);
    }
    return node;
  }

  /** Snapshots are stored like events: by a Reins serializer, without a class name. */
  private static void assertSnapshotsHaveNoClassNames(Node node, String runId) throws SQLException {
    TestProbe<Object> probe = node.kit().createTestProbe();
    probe.awaitAssert(TIMEOUT, () -> {
      assertEquals(List.of(6L, 9L), snapshotSequenceNrs(node.db().journal(), runId));
      return null;
    });
    String sql = "SELECT \"snapshot_ser_id\", \"snapshot_ser_manifest\", \"snapshot_payload\" FROM \"snapshot\""
        + " WHERE \"persistence_id\" = ?";
    try (Connection c = JournalSchema.connect(node.db().journal()); PreparedStatement s = c.prepareStatement(sql)) {
      s.setString(1, RunJournal.persistenceId(runId));
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          assertEquals(7312, rs.getInt("snapshot_ser_id"), "serialized by reins-snapshot");
          assertNoClassName(rs.getString("snapshot_ser_manifest"));
          assertNoClassName(new String(rs.getBytes("snapshot_payload"), StandardCharsets.UTF_8));
        }
      }
    }
  }

  private static List<Long> snapshotSequenceNrs(JournalDatabase db, String runId) throws SQLException {
    List<Long> out = new ArrayList<>();
    String sql = "SELECT \"sequence_number\" FROM \"snapshot\" WHERE \"persistence_id\" = ? ORDER BY \"sequence_number\"";
    try (Connection c = JournalSchema.connect(db); PreparedStatement s = c.prepareStatement(sql)) {
      s.setString(1, RunJournal.persistenceId(runId));
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getLong(1));
        }
      }
    }
    return out;
  }

  private static void assertNoClassName(String stored) {
    assertAll(
        () -> assertFalse(stored.contains("dev.reins"), stored),
        () -> assertFalse(stored.contains("RunEvent$"), stored),
        () -> assertFalse(stored.contains("RunState"), stored));
  }

  private static String newRunId() {
    return "run-" + UUID.randomUUID();
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
  }
}
