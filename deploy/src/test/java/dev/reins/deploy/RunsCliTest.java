package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.http.TestServer;
import dev.reins.protocol.json.ReinsJson;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code reins runs|delegations|cluster|completion} against one running server: each command's
 * table and {@code --json} output, exit codes (0 done, 1 a run that did not succeed or a refusal,
 * 2 usage), {@code watch} ending when the run ends, and where the URL and token come from.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunsCliTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
  private static final Pattern ID_LINE = Pattern.compile("(?m)^id +(\\S+)$");

  private TestServer server;
  private Config config;
  private Path emptyDataDir;
  private Map<String, String> env;
  private final List<String> toCancel = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
    emptyDataDir = Files.createTempDirectory("reins-cli-");
    config = ConfigFactory.parseMap(Map.of("reins.data-dir", emptyDataDir.toString())).withFallback(ConfigFactory.load());
    env = Map.of("REINS_URL", "http://127.0.0.1:" + server.port(), "REINS_TOKEN", TestServer.ADMIN_TOKEN);
  }

  @AfterAll
  void stop() throws Exception {
    server.closeAfterCancelling(toCancel.toArray(String[]::new));
  }

  private CliRun reins(String... args) {
    return CliRun.of(config, env, args);
  }

  private static String id(CliRun run) {
    Matcher m = ID_LINE.matcher(run.out());
    assertTrue(m.find(), run.out() + run.err());
    return m.group(1);
  }

  private static JsonNode json(CliRun run) throws Exception {
    assertEquals(0, run.exit(), run.out() + run.err());
    return ReinsJson.mapper().readTree(run.out());
  }

  @Test
  void submitGetListEventsAndLogsInTablesAndJson() throws Exception {
    CliRun submitted = reins("runs", "submit", "-l", "team=cli", "-e", "GREETING=hello there", "--timeout", "5m",
        "--retries", "0", "--", "sh", "-c", "echo \"$GREETING\"");
    assertEquals(0, submitted.exit(), submitted.err());
    String id = id(submitted);
    assertTrue(submitted.out().contains("command   sh -c 'echo \"$GREETING\"'"), submitted.out());
    assertTrue(submitted.out().contains("labels    team=cli"), submitted.out());
    server.awaitState(id, "succeeded", PATIENCE);

    CliRun get = reins("runs", "get", id);
    assertEquals(0, get.exit(), get.err());
    assertTrue(get.out().contains("state     succeeded"), get.out());
    assertTrue(get.out().contains("exit      exit code 0"), get.out());
    JsonNode got = json(reins("runs", "get", id, "--json"));
    assertEquals("succeeded", got.get("state").asText());
    assertEquals("hello there", got.at("/executor/env/GREETING").asText());
    assertEquals(300, got.get("timeoutSeconds").asInt());

    CliRun logs = reins("runs", "logs", id);
    assertEquals(0, logs.exit(), logs.err());
    assertTrue(logs.out().contains("hello there"), logs.out());

    CliRun events = reins("runs", "events", id);
    assertEquals(0, events.exit(), events.err());
    List<String> lines = events.out().lines().toList();
    assertTrue(lines.get(0).matches("SEQ +TIME +EVENT +DETAIL"), lines.get(0));
    assertTrue(lines.get(1).startsWith("1 ") && lines.get(1).contains("RunSubmitted"), lines.get(1));
    JsonNode journal = json(reins("runs", "events", id, "--json"));
    assertEquals(lines.size() - 1, journal.size());
    assertEquals("RunSubmitted", journal.get(0).get("type").asText());

    // the list follows the journal within the projection's lag
    TestServer.awaitAssert(PATIENCE, () -> {
      CliRun listed = reins("runs", "list", "--label", "team=cli", "--state", "succeeded");
      assertEquals(0, listed.exit(), listed.err());
      assertTrue(listed.out().lines().findFirst().orElseThrow().matches("ID +STATE +ATTEMPT +CREATED +UPDATED +LABELS"),
          listed.out());
      assertTrue(listed.out().contains(id), listed.out());
    });
    JsonNode page = json(reins("runs", "list", "--label", "team=cli", "--json"));
    assertEquals(1, page.get("runs").size());
    assertEquals(id, page.get("runs").get(0).get("id").asText());
    assertTrue(!page.has("next") || page.get("next").isNull(), page.toString());

    CliRun quiet = reins("runs", "submit", "-q", "-l", "team=cli", "true");
    assertEquals(0, quiet.exit(), quiet.err());
    String second = quiet.out().strip();
    assertTrue(second.matches("[0-9a-f-]{36}"), quiet.out());
    JsonNode submittedJson = json(reins("runs", "submit", "--json", "-l", "team=cli", "-k", "cli-key", "--", "true"));
    JsonNode again = json(reins("runs", "submit", "--json", "-l", "team=cli", "-k", "cli-key", "--", "true"));
    assertEquals(submittedJson.get("id"), again.get("id")); // the same key and request: the same run
    TestServer.awaitAssert(PATIENCE, () -> {
      CliRun paged = reins("runs", "list", "--label", "team=cli", "--limit", "1");
      assertTrue(paged.err().contains("more runs: --cursor "), paged.err());
      JsonNode everything = json(reins("runs", "list", "--label", "team=cli", "--limit", "1", "--all", "--json"));
      assertEquals(3, everything.get("runs").size(), everything.toString());
    });
  }

  @Test
  void submitWaitAndWatchExitWithTheRunsOutcome() throws Exception {
    CliRun ok = reins("runs", "submit", "--wait", "--", "sh", "-c", "echo done");
    assertEquals(0, ok.exit(), ok.out() + ok.err());
    assertTrue(ok.out().startsWith("submitted "), ok.out());
    assertTrue(ok.out().contains("AttemptExited"), ok.out());
    assertTrue(ok.out().strip().endsWith("succeeded (exit code 0)"), ok.out());

    CliRun failed = reins("runs", "submit", "--wait", "--", "sh", "-c", "exit 3");
    assertEquals(1, failed.exit(), failed.out() + failed.err());
    assertTrue(failed.out().strip().endsWith("failed (exit code 3)"), failed.out());

    JsonNode failedJson = ReinsJson.mapper().readTree(reins("runs", "submit", "--wait", "--json", "false").out());
    assertEquals("failed", failedJson.get("state").asText());

    // watch a live run; it ends when the run does (here: by a cancel from another command)
    String live = server.submit("[\"sleep\",\"600\"]", null);
    toCancel.add(live);
    server.awaitState(live, "running", PATIENCE);
    CompletableFuture<CliRun> watching = CompletableFuture.supplyAsync(() -> reins("runs", "watch", live));
    CompletableFuture<CliRun> watchingJson = CompletableFuture.supplyAsync(() -> reins("runs", "watch", live, "--json"));
    CliRun cancel = reins("runs", "cancel", live, "--reason", "enough", "--wait", "20s");
    assertEquals(0, cancel.exit(), cancel.err());
    assertEquals(live + " cancelled (changed)", cancel.out().strip());

    CliRun watched = watching.get(PATIENCE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(1, watched.exit(), watched.out() + watched.err());
    assertTrue(watched.out().contains("CancelRequested"), watched.out());
    assertTrue(watched.out().strip().endsWith(live + " cancelled (signal TERM)"), watched.out());
    CliRun watchedJson = watchingJson.get(PATIENCE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(1, watchedJson.exit(), watchedJson.err());
    List<String> lines = watchedJson.out().lines().toList();
    for (int i = 0; i < lines.size(); i++) {
      assertEquals(i + 1, ReinsJson.mapper().readTree(lines.get(i)).get("seq").asInt(), watchedJson.out());
    }
    assertEquals("AttemptExited", ReinsJson.mapper().readTree(lines.get(lines.size() - 1)).get("type").asText());

    // a finished run: watch prints its whole history and ends at once; --after skips what was seen
    CliRun finished = reins("runs", "watch", live);
    assertEquals(1, finished.exit());
    assertEquals(watched.out(), finished.out());
    CliRun rest = reins("runs", "watch", live, "--after", "2");
    assertFalse(rest.out().contains("RunSubmitted"), rest.out());
  }

  @Test
  void cancelAndResetSayWhatHappened() throws Exception {
    String id = server.submit("[\"sleep\",\"600\"]", null);
    toCancel.add(id);
    server.awaitState(id, "running", PATIENCE);
    JsonNode cancelled = json(reins("runs", "cancel", id, "--wait", "20s", "--json"));
    assertEquals("cancelled", cancelled.get("state").asText());
    CliRun twice = reins("runs", "cancel", id);
    assertEquals(id + " cancelled (already_terminal)", twice.out().strip());

    CliRun reset = reins("runs", "reset", id);
    assertEquals(0, reset.exit(), reset.err());
    assertEquals(id + " pending, attempt 2", reset.out().strip());
    CliRun notTerminal = reins("runs", "reset", id);
    assertEquals(1, notTerminal.exit());
    assertTrue(notTerminal.err().contains("409"), notTerminal.err());
    assertEquals(1, reins("runs", "reset", id, "--json", "--attempt", "1").exit());
  }

  @Test
  void delegationsToChildRuns() throws Exception {
    String parent = server.submit("[\"sleep\",\"600\"]", null);
    toCancel.add(parent);
    server.awaitState(parent, "running", PATIENCE);

    CliRun created = reins("delegations", "create", parent, "--child", "--wait", "30s", "--", "sh", "-c", "exit 0");
    assertEquals(0, created.exit(), created.out() + created.err());
    String done = id(created);
    assertTrue(created.out().contains("state     completed"), created.out());
    assertTrue(created.out().contains("target    run sh -c 'exit 0'"), created.out());
    assertTrue(created.out().matches("(?s).*result +child run \\S+ succeeded \\(exit code 0\\).*"), created.out());

    JsonNode slow = json(reins("delegations", "create", parent, "--child", "--json", "-k", "slow", "--", "sleep", "600"));
    String slowId = slow.get("id").asText();
    assertEquals(parent, slow.get("runId").asText());

    CliRun list = reins("delegations", "list", parent);
    assertEquals(0, list.exit(), list.err());
    assertTrue(list.out().lines().findFirst().orElseThrow().matches("ID +STATE +CREATED +DEADLINE +TARGET"), list.out());
    assertTrue(list.out().contains(done) && list.out().contains(slowId), list.out());
    assertEquals(2, json(reins("delegations", "list", parent, "--json")).size());

    CliRun cancel = reins("delegations", "cancel", parent, slowId);
    assertEquals(0, cancel.exit(), cancel.err());
    assertTrue(cancel.out().startsWith(slowId + " "), cancel.out());
    JsonNode ended = json(reins("delegations", "get", parent, slowId, "--wait", "30s", "--json"));
    assertEquals("cancelled", ended.get("state").asText());
    CliRun get = reins("delegations", "get", parent, done);
    assertTrue(get.out().contains("state     completed"), get.out());

    CliRun bothTargets = reins("delegations", "create", parent, "--child", "--a2a", "http://example.com", "--", "true");
    assertEquals(2, bothTargets.exit(), bothTargets.err());
    CliRun notAllowed = reins("delegations", "create", parent, "--a2a", "http://agents.example.com/a2a", "--text", "hi");
    assertEquals(1, notAllowed.exit(), notAllowed.err());
    assertTrue(notAllowed.err().contains("403") && notAllowed.err().contains("not among the allowed targets"),
        notAllowed.err());
  }

  @Test
  void clusterShowsThisNodeAndItsSlots() throws Exception {
    CliRun table = reins("cluster");
    assertEquals(0, table.exit(), table.err());
    List<String> lines = table.out().lines().toList();
    assertTrue(lines.get(0).matches("NODE +STATUS +REACHABLE +SLOTS +BUSY +QUEUED +ROLES"), table.out());
    assertTrue(lines.get(1).contains("(this)") && lines.get(1).contains(" up ") && lines.get(1).contains(" yes "),
        table.out());
    JsonNode json = json(reins("cluster", "--json"));
    assertEquals(1, json.get("members").size());
    assertTrue(json.at("/members/0/slots/total").asInt() > 0, json.toString());
  }

  @Test
  void urlAndTokenFromFlagsEnvironmentOrTheDataDirectory() throws Exception {
    String url = "http://127.0.0.1:" + server.port();
    CliRun flags = CliRun.of(config, Map.of(), "cluster", "--url", url, "--token", TestServer.ADMIN_TOKEN);
    assertEquals(0, flags.exit(), flags.err());

    CliRun noToken = CliRun.of(config, Map.of("REINS_URL", url), "cluster");
    assertEquals(2, noToken.exit());
    assertTrue(noToken.err().contains("no token"), noToken.err());

    Path dataDir = Files.createTempDirectory("reins-cli-data-");
    Files.writeString(dataDir.resolve("admin.token"), TestServer.ADMIN_TOKEN + "\n");
    Config local = ConfigFactory.parseMap(Map.of("reins.data-dir", dataDir.toString())).withFallback(ConfigFactory.load());
    CliRun fromFile = CliRun.of(local, Map.of("REINS_URL", url), "cluster");
    assertEquals(0, fromFile.exit(), fromFile.err());

    CliRun badToken = CliRun.of(config, Map.of("REINS_URL", url, "REINS_TOKEN", "nope"), "cluster");
    assertEquals(1, badToken.exit());
    assertTrue(badToken.err().startsWith("reins cluster: ") && badToken.err().contains("401"), badToken.err());

    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    CliRun noServer = CliRun.of(config, Map.of(), "runs", "get", "00000000-0000-0000-0000-000000000000",
        "--url", "http://127.0.0.1:" + closed, "--token", "x");
    assertEquals(1, noServer.exit());
    assertTrue(noServer.err().contains("ConnectException"), noServer.err());
  }

  @Test
  void usageErrorsAndRefusals() {
    CliRun unknown = reins("runs", "get", "00000000-0000-0000-0000-000000000000");
    assertEquals(1, unknown.exit());
    assertTrue(unknown.err().contains("404") && unknown.err().contains("no run"), unknown.err());
    assertEquals("", unknown.out());

    assertEquals(2, reins("runs").exit());
    assertEquals(2, reins("runs", "get").exit());
    assertEquals(2, reins("runs", "list", "--state", "sleeping").exit());
    assertEquals(2, reins("runs", "submit").exit());
    assertEquals(2, reins("runs", "submit", "--timeout", "10", "true").exit()); // a duration needs its unit
    CliRun invalid = reins("runs", "submit", "--workdir", "relative", "--", "true");
    assertEquals(1, invalid.exit());
    assertTrue(invalid.err().contains("field executor.workdir"), invalid.err());
  }

  @Test
  void completionIsABashScriptOfEveryCommand() {
    CliRun completion = reins("completion");
    assertEquals(0, completion.exit(), completion.err());
    assertTrue(completion.out().contains("complete -F"), completion.out());
    for (String word : List.of("runs", "submit", "watch", "delegations", "cluster", "tokens", "--idempotency-key")) {
      assertTrue(completion.out().contains(word), word);
    }
  }
}
