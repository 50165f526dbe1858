package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.http.TestServer;
import dev.reins.persistence.Connections;
import dev.reins.persistence.JournalDatabase;
import dev.reins.protocol.json.ReinsJson;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code reins audit}: verify finds nothing on a clean journal, finds a row of the read model
 * that a test corrupts (and nothing once the projection is rebuilt), and finds an event deleted
 * from the journal; replay prints a run's history with the state after each event.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuditCliTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);

  private TestServer server;
  private Config environment;
  private final List<String> runs = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
    environment = ConfigFactory.parseMap(Map.of("reins.db.url", "", "reins.data-dir", server.dataDir.toString()))
        .withFallback(ConfigFactory.load());
    runs.add(server.submit("[\"true\"]", "\"labels\":{\"team\":\"audit\"}"));
    runs.add(server.submit("[\"false\"]", "\"retry\":{\"maxAttempts\":2,\"backoffSeconds\":0}"));
    String cancelled = server.submit("[\"sleep\",\"600\"]", null);
    runs.add(cancelled);
    server.awaitState(runs.get(0), "succeeded", PATIENCE);
    server.awaitState(runs.get(1), "failed", PATIENCE);
    server.awaitState(cancelled, "running", PATIENCE);
    assertEquals(200, server.post("/v1/runs/" + cancelled + "/cancel?wait=20s", null).statusCode());
    awaitListedAsGetShows();
  }

  @AfterAll
  void stop() {
    server.close();
  }

  @Test
  void verifyFindsACorruptedRowAndADeletedEventAndNothingOnACleanJournal() throws Exception {
    CliRun clean = CliRun.of(environment, "audit", "verify", "--server", "http://127.0.0.1:" + server.port(),
        "--token", TestServer.ADMIN_TOKEN);
    assertEquals(0, clean.exit(), clean.out() + clean.err());
    assertTrue(clean.out().contains("verified 3 run(s) against 3 read model row(s)"), clean.out());
    assertTrue(clean.out().contains("no divergence"), clean.out());

    String victim = runs.get(0);
    sql("UPDATE reins_runs SET state = 'running', attempt = 7 WHERE run_id = ?", victim);
    CliRun corrupted = CliRun.of(environment, "audit", "verify", "--settle", "1s");
    assertEquals(1, corrupted.exit(), corrupted.out() + corrupted.err());
    assertTrue(corrupted.out().contains("read-model " + victim + ": state is running, the journal says succeeded"), corrupted.out());
    assertTrue(corrupted.out().contains("read-model " + victim + ": attempt is 7, the journal says 1"), corrupted.out());
    assertTrue(corrupted.out().contains("2 divergence(s)"), corrupted.out());

    // a rebuild from offset zero rewrites the row from the journal
    assertEquals(202, server.post("/v1/admin/projections/runs/rebuild", null).statusCode());
    TestServer.awaitAssert(PATIENCE, () -> {
      CliRun rebuilt = CliRun.of(environment, "audit", "verify", "--settle", "1s");
      assertEquals(0, rebuilt.exit(), rebuilt.out() + rebuilt.err());
    });

    String gap = runs.get(2); // cancelled: submitted, placed, started, cancel requested, exited
    sql("DELETE FROM \"event_journal\" WHERE \"persistence_id\" = ? AND \"sequence_number\" = 2", "Run|" + gap);
    CliRun deleted = CliRun.of(environment, "audit", "verify", "--settle", "1s");
    assertEquals(1, deleted.exit(), deleted.out() + deleted.err());
    assertTrue(deleted.out().contains("journal " + gap + ": event 2 is missing (the next is 3)"), deleted.out());
  }

  @Test
  void replayPrintsEachEventWithTheStateAfterIt() throws Exception {
    String run = runs.get(1); // failed twice: submitted, placed, started, exited, placed, started, exited
    CliRun table = CliRun.of(environment, "audit", "replay", run);
    assertEquals(0, table.exit(), table.err());
    List<String> lines = table.out().lines().toList();
    assertTrue(lines.get(0).matches("TIME +SEQ +EVENT +STATE +ATTEMPT +DETAIL"), lines.get(0));
    assertTrue(lines.get(1).contains(" 1 ") && lines.get(1).contains("RunSubmitted") && lines.get(1).contains("pending"), lines.get(1));
    assertTrue(lines.get(lines.size() - 1).contains("AttemptExited") && lines.get(lines.size() - 1).contains("failed"),
        table.out());

    CliRun json = CliRun.of(environment, "audit", "replay", run, "--json");
    assertEquals(0, json.exit(), json.err());
    JsonNode steps = ReinsJson.mapper().readTree(json.out());
    JsonNode served = TestServer.json(server.get("/v1/runs/" + run));
    JsonNode last = steps.get(steps.size() - 1);
    assertEquals(served.get("version").asLong(), last.get("seq").asLong());
    assertEquals(served.get("state"), last.get("state").get("state"));
    assertEquals(served.get("attempt"), last.get("state").get("attempt"));
    for (int i = 0; i < steps.size(); i++) {
      assertEquals(i + 1, steps.get(i).get("seq").asInt());
    }

    CliRun unknown = CliRun.of(environment, "audit", "replay", "00000000-0000-0000-0000-000000000000");
    assertEquals(1, unknown.exit());
    assertTrue(unknown.err().contains("no run with id"), unknown.err());
  }

  private void awaitListedAsGetShows() {
    TestServer.awaitAssert(PATIENCE, () -> {
      JsonNode listed = TestServer.json(server.get("/v1/runs?limit=1000")).get("runs");
      assertEquals(runs.size(), listed.size());
      for (JsonNode row : listed) {
        JsonNode run = TestServer.json(server.get("/v1/runs/" + row.get("id").asText()));
        assertEquals(run.get("version"), row.get("version"));
      }
    });
  }

  private void sql(String statement, String arg) throws Exception {
    try (Connection c = Connections.direct(JournalDatabase.fromConfig(environment)).open();
        PreparedStatement s = c.prepareStatement(statement)) {
      s.setString(1, arg);
      assertEquals(1, s.executeUpdate(), statement);
    }
  }
}
