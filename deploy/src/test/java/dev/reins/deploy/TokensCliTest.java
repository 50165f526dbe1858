package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jwt.SignedJWT;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.http.ApiClient;
import dev.reins.http.TestServer;
import dev.reins.persistence.TestDatabases;
import dev.reins.persistence.TestDatabases.TestDatabase;
import dev.reins.protocol.json.ReinsJson;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code reins tokens} and {@code reins keys} against the database of a running server: what the
 * command line writes, the server honours (scopes, tenants, revocation, signing keys), and what it
 * refuses it explains with exit code 2 (usage) or 1 (the database).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokensCliTest {
  /** Short caches, so that a revocation or rotation reaches the server within the test's patience. */
  private static final Map<String, Object> FAST_AUTH = Map.of(
      "reins.auth.token-cache-ttl", "200ms",
      "reins.auth.signing-key-refresh", "200ms");
  private static final Pattern SECRET = Pattern.compile("reins_[A-Za-z0-9_-]{43}");
  private static final Duration PATIENCE = Duration.ofSeconds(30);

  private TestServer h2;
  private final List<String> runsToCancel = new ArrayList<>();

  @BeforeAll
  void startServer() throws IOException {
    h2 = TestServer.start(FAST_AUTH);
  }

  @AfterEach
  void cancelRuns() throws Exception {
    for (String id : runsToCancel) {
      h2.post("/v1/runs/" + id + "/cancel?wait=20s", null);
    }
    runsToCancel.clear();
  }

  @AfterAll
  void stopServer() {
    h2.close();
  }

  @Test
  void onEmbeddedH2ATokenFromTheCommandLineWorksOnTheRunningServerWithinItsScopesUntilRevoked() throws Exception {
    // the server's configuration has another data dir (REINS_DATA_DIR or ./data): --data-dir wins
    Config environment = ConfigFactory.parseMap(Map.of("reins.db.url", "")).withFallback(ConfigFactory.load());
    readOnlyTokenLifecycle(h2, environment, "--data-dir", h2.dataDir.toString());
  }

  @Test
  void onPostgresATokenFromTheCommandLineWorksOnTheRunningServerWithinItsScopesUntilRevoked(@TempDir Path tmp) throws Exception {
    try (TestDatabase db = TestDatabases.fresh(TestDatabases.Backend.POSTGRES, tmp)) {
      Map<String, Object> database = Map.of(
          "reins.db.url", db.journal().url(),
          "reins.db.user", db.journal().user(),
          "reins.db.password", db.journal().password());
      Map<String, Object> serverConfig = new HashMap<>(FAST_AUTH);
      serverConfig.putAll(database);
      try (TestServer pg = TestServer.start(serverConfig)) {
        // what REINS_DB_URL, REINS_DB_USER and REINS_DB_PASSWORD would say
        readOnlyTokenLifecycle(pg, ConfigFactory.parseMap(database).withFallback(ConfigFactory.load()));
      }
    }
  }

  private void readOnlyTokenLifecycle(TestServer server, Config environment, String... where) throws Exception {
    CliRun created = cli(environment, args(where, "tokens", "create", "--name", "dashboard", "--scope", "runs:read", "--json"));
    assertEquals(0, created.exit(), created.err());
    JsonNode view = ReinsJson.mapper().readTree(created.out());
    String id = view.get("id").asText();
    String secret = view.get("token").asText();
    assertTrue(SECRET.matcher(secret).matches(), "a new API token: " + secret);
    assertEquals("dashboard", view.get("name").asText());
    assertEquals("default", view.get("tenant").asText());
    assertEquals("[\"runs:read\"]", view.get("scopes").toString());
    assertFalse(view.has("expiresAt"), "no expiry asked for, none set");

    String run = server.submit("[\"true\"]", null);
    ApiClient dashboard = server.as(secret);
    assertEquals(200, dashboard.get("/v1/runs/" + run).statusCode(), "runs:read may read a run");
    assertEquals(403, dashboard.post("/v1/runs", "{\"executor\":{\"type\":\"process\",\"command\":[\"true\"]}}").statusCode(),
        "runs:read may not submit");

    CliRun listed = cli(environment, args(where, "tokens", "list"));
    assertEquals(0, listed.exit(), listed.err());
    String row = listed.out().lines().filter(l -> l.startsWith(id)).findFirst().orElseThrow(() -> new AssertionError(listed.out()));
    assertTrue(row.contains("runs:read") && row.contains("active") && row.endsWith("dashboard"), row);
    assertFalse(listed.out().contains(secret), "a listing never shows a secret");
    CliRun listedJson = cli(environment, args(where, "tokens", "list", "--json"));
    assertFalse(listedJson.out().contains(secret), "a listing never shows a secret");
    JsonNode listedView = find(ReinsJson.mapper().readTree(listedJson.out()), "id", id);
    assertFalse(listedView.has("token"));

    CliRun revoked = cli(environment, args(where, "tokens", "revoke", id));
    assertEquals(0, revoked.exit(), revoked.err());
    TestServer.awaitAssert(PATIENCE, () -> assertEquals(401, dashboard.get("/v1/runs/" + run).statusCode(),
        "a revoked token is refused once the server's token cache has expired"));
    JsonNode afterRevoke = find(ReinsJson.mapper().readTree(cli(environment, args(where, "tokens", "list", "--json")).out()), "id", id);
    assertTrue(afterRevoke.has("revokedAt"), afterRevoke.toString());
    assertTrue(cli(environment, args(where, "tokens", "list")).out().lines()
        .anyMatch(l -> l.startsWith(id) && l.contains("revoked")));
  }

  @Test
  void aPersonSeesTheTokenOnceOnItsOwnLineWithItsTenantScopesAndExpiry() throws Exception {
    Instant before = Instant.now();
    CliRun created = cli(h2Config(), "tokens", "create", "--name", "acme ci", "--tenant", "acme",
        "--scope", "runs:read,runs:submit", "--expires-in", "30d");
    Instant after = Instant.now();
    assertEquals(0, created.exit(), created.err());
    List<String> lines = created.out().lines().toList();
    String secret = lines.stream().filter(l -> SECRET.matcher(l).matches()).findFirst()
        .orElseThrow(() -> new AssertionError("the token on a line of its own: " + created.out()));
    assertTrue(lines.contains("tenant:  acme"), created.out());
    assertTrue(lines.contains("scopes:  runs:read runs:submit"), created.out());
    Instant expires = Instant.parse(lines.stream().filter(l -> l.startsWith("expires: ")).findFirst().orElseThrow().substring(9));
    assertFalse(expires.isBefore(before.plus(Duration.ofDays(30)).minusMillis(1)) || expires.isAfter(after.plus(Duration.ofDays(30))),
        "expires 30 days after its creation: " + expires);

    // another tenant's run does not exist for this token; its own tenant's runs do
    String defaultsRun = h2.submit("[\"true\"]", null);
    ApiClient acme = h2.as(secret);
    assertEquals(404, acme.get("/v1/runs/" + defaultsRun).statusCode());
    String acmesRun = acme.submit("[\"true\"]", null);
    assertEquals("acme", ApiClient.json(acme.get("/v1/runs/" + acmesRun)).get("tenant").asText());
  }

  @Test
  void anotherJvmCreatesATokenThroughTheRunningServersEmbeddedDatabase() throws Exception {
    // In this JVM the command and the server would share H2's in-process database; a real second
    // process must go through the server's AUTO_SERVER port.
    ProcessBuilder pb = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "tokens", "create", "--name", "from another jvm", "--scope", "runs:read", "--json");
    pb.environment().put("REINS_DATA_DIR", h2.dataDir.toString());
    pb.environment().remove("REINS_DB_URL");
    Path stderr = Files.createTempFile("reins-cli-", ".err");
    pb.redirectError(stderr.toFile());
    Process cli = pb.start();
    String out = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(cli.waitFor(60, TimeUnit.SECONDS), "the command ends");
    assertEquals(0, cli.exitValue(), Files.readString(stderr));
    String secret = ReinsJson.mapper().readTree(out).get("token").asText(); // stdout is the JSON and nothing else

    String run = h2.submit("[\"true\"]", null);
    assertEquals(200, h2.as(secret).get("/v1/runs/" + run).statusCode());
  }

  @Test
  void aRotatedKeySignsNewRunsTokensAndRetiringTheOldOneRefusesTokensSignedWithIt(@TempDir Path tmp) throws Exception {
    Config config = h2Config();
    JsonNode keys = ReinsJson.mapper().readTree(cli(config, "keys", "list", "--json").out());
    String first = find(keys, "state", "signing").get("kid").asText();
    TokenRun older = runWithToken(tmp, true);
    assertEquals(first, kid(older.token()));

    CliRun rotated = cli(config, "keys", "rotate");
    assertEquals(0, rotated.exit(), rotated.err());
    String second = rotated.out().trim();
    // the server signs with the new key once it has reloaded its keys (signing-key-refresh)
    Awaitility.await("runs get tokens signed with " + second).atMost(PATIENCE).pollInterval(Duration.ofMillis(100))
        .until(() -> kid(runWithToken(tmp, false).token()), second::equals);
    TokenRun newer = runWithToken(tmp, true);
    assertEquals(second, kid(newer.token()));
    JsonNode rotatedKeys = ReinsJson.mapper().readTree(cli(config, "keys", "list", "--json").out());
    assertEquals("signing", find(rotatedKeys, "kid", second).get("state").asText());
    assertEquals("verifying", find(rotatedKeys, "kid", first).get("state").asText());

    ApiClient olderRun = h2.as(older.token());
    ApiClient newerRun = h2.as(newer.token());
    assertEquals(200, olderRun.get("/v1/runs/" + older.id()).statusCode(), "the old key still verifies");
    assertEquals(200, newerRun.get("/v1/runs/" + newer.id()).statusCode());

    CliRun retired = cli(config, "keys", "retire", first);
    assertEquals(0, retired.exit(), retired.err());
    TestServer.awaitAssert(PATIENCE, () -> assertEquals(401, olderRun.get("/v1/runs/" + older.id()).statusCode(),
        "a token signed with a retired key is refused"));
    assertEquals(200, newerRun.get("/v1/runs/" + newer.id()).statusCode(), "tokens of the current key still verify");
    JsonNode retiredKeys = ReinsJson.mapper().readTree(cli(config, "keys", "list", "--json").out());
    assertEquals("retired", find(retiredKeys, "kid", first).get("state").asText());

    CliRun last = cli(config, "keys", "retire", second);
    assertEquals(1, last.exit(), "the last key is needed to sign: " + last.out());
    assertTrue(last.err().contains("reins keys rotate"), last.err());
    assertEquals(1, cli(config, "keys", "retire", first).exit(), "already retired");
    assertEquals(1, cli(config, "keys", "retire", "k_nosuchkey").exit());
  }

  @Test
  void usageErrorsSayWhatIsWrongAndExit2BeforeTouchingTheDatabase(@TempDir Path dataDir) {
    Config config = TestDatabases.config(dataDir, "", "", "");
    assertUsageError(config, "unknown scope 'runs:write'", "tokens", "create", "--name", "x", "--scope", "runs:write");
    assertUsageError(config, "tenant:", "tokens", "create", "--name", "x", "--scope", "runs:read", "--tenant", "Acme!");
    assertUsageError(config, "name:", "tokens", "create", "--name", " ", "--scope", "runs:read");
    assertUsageError(config, "'30' is not a duration with a unit", "tokens", "create", "--name", "x", "--scope", "admin", "--expires-in", "30");
    assertUsageError(config, "'soon' is not a duration", "tokens", "create", "--name", "x", "--scope", "admin", "--expires-in", "soon");
    assertUsageError(config, "not a positive duration", "tokens", "create", "--name", "x", "--scope", "admin", "--expires-in", "-1d");
    assertUsageError(config, "not an ISO-8601", "tokens", "create", "--name", "x", "--scope", "admin", "--expires-at", "2027-01-01");
    assertUsageError(config, "must be in the future", "tokens", "create", "--name", "x", "--scope", "admin", "--expires-at", "2020-01-01T00:00:00Z");
    assertUsageError(config, "mutually exclusive", "tokens", "create", "--name", "x", "--scope", "admin",
        "--expires-in", "1d", "--expires-at", "2099-01-01T00:00:00Z");
    assertUsageError(config, "--name", "tokens", "create", "--scope", "admin");
    assertUsageError(config, "--scope", "tokens", "create", "--name", "x");
    assertUsageError(config, "ID", "tokens", "revoke");
    assertUsageError(config, "missing command", "tokens");
    assertUsageError(config, "missing command", "keys");
    assertUsageError(config, "frobnicate", "tokens", "frobnicate");
    assertUsageError(config, "must be a jdbc:postgresql: or jdbc:h2: URL", "tokens", "list", "--db-url", "mysql://db/reins");
    assertFalse(Files.exists(dataDir.resolve("journal")), "nothing was written for a command line that was refused");
  }

  @Test
  void aDatabaseThatDoesNotAnswerExits1NamingItsUrlWithoutThePassword(@TempDir Path dataDir) throws IOException {
    String url = "jdbc:postgresql://127.0.0.1:" + closedPort() + "/reins?user=reins&password=hunter2";
    for (String[] command : List.of(
        new String[] {"tokens", "list"},
        new String[] {"tokens", "create", "--name", "x", "--scope", "admin"},
        new String[] {"keys", "rotate"})) {
      CliRun r = cli(TestDatabases.config(dataDir, "", "", ""), args(new String[] {"--db-url", url}, command));
      assertEquals(1, r.exit(), r.out() + r.err());
      assertTrue(r.err().contains("password=***"), "names the database: " + r.err());
      assertFalse(r.err().contains("hunter2"), "never its password: " + r.err());
      assertEquals("", r.out());
    }
  }

  @Test
  void withoutACommandAndWithServeTheServerStarts(@TempDir Path dataDir) {
    // a configuration the server refuses at once shows which commands try to start one
    Config broken = ConfigFactory.parseMap(Map.of("reins.db.url", "mysql://db/reins"))
        .withFallback(TestDatabases.config(dataDir, "", "", ""));
    for (String[] command : List.of(new String[] {}, new String[] {"serve"})) {
      CliRun r = cli(broken, command);
      assertEquals(1, r.exit(), List.of(command) + ": " + r.err());
      assertTrue(r.err().contains("REINS_DB_URL"), r.err());
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Runs the command line in this JVM, as {@code main} would with {@code config} for the environment. */
  private static CliRun cli(Config config, String... args) {
    return CliRun.of(config, args);
  }

  private static void assertUsageError(Config config, String expected, String... args) {
    CliRun r = cli(config, args);
    assertEquals(2, r.exit(), List.of(args) + ": " + r.out() + r.err());
    assertTrue(r.err().contains(expected), List.of(args) + " should say " + expected + ": " + r.err());
  }

  private Config h2Config() {
    return TestDatabases.config(h2.dataDir, "", "", "");
  }

  private static String[] args(String[] first, String... then) {
    List<String> all = new ArrayList<>(List.of(then));
    all.addAll(List.of(first));
    return all.toArray(String[]::new);
  }

  private static JsonNode find(JsonNode array, String field, String value) {
    for (JsonNode node : array) {
      if (value.equals(node.path(field).asText())) {
        return node;
      }
    }
    throw new AssertionError("no " + field + "=" + value + " in " + array);
  }

  /** A run whose process wrote its REINS_TOKEN to a file. */
  private record TokenRun(String id, Path tokenFile) {
    String token() {
      return TestServer.await(PATIENCE, () -> Files.readString(tokenFile));
    }
  }

  /** Submits a run that writes its REINS_TOKEN to a file; {@code stay}: it keeps running (its token stays valid). */
  private TokenRun runWithToken(Path dir, boolean stay) throws Exception {
    Path file = dir.resolve(UUID.randomUUID() + ".token");
    String script = "printf %s \"$REINS_TOKEN\" > " + file + ".tmp && mv " + file + ".tmp " + file + (stay ? " && exec sleep 600" : "");
    String run = h2.submit(ReinsJson.mapper().writeValueAsString(List.of("sh", "-c", script)), null);
    if (stay) {
      runsToCancel.add(run);
    }
    return new TokenRun(run, file);
  }

  private static String kid(String jwt) throws Exception {
    return SignedJWT.parse(jwt).getHeader().getKeyID();
  }

  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
