package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.reins.http.ApiClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What a job gets from the server, seen from the job: an environment with none of the server's
 * variables but the allowed ones (the server runs in a child JVM whose environment holds planted
 * secrets), and a REINS_TOKEN that reads its own run, nothing else, and only while its attempt
 * lives.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JobIsolationTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  /** The environment of a job's shell that Reins did not make: sh sets PWD itself. */
  private static final Set<String> MADE_BY_THE_SHELL = Set.of("PWD");

  private final String adminToken = "planted-admin-token-" + UUID.randomUUID();
  /** The server's environment: this JVM's, plus secrets and a variable the operator lets through. */
  private final Map<String, String> serverEnv = new HashMap<>(System.getenv());
  private Path dataDir;
  private Process server;
  private ApiClient admin;

  @BeforeAll
  void startServer() throws Exception {
    dataDir = Files.createTempDirectory("reins-jobenv-");
    Map<String, String> planted = Map.of(
        "REINS_DB_PASSWORD", "hunter2",
        "REINS_ADMIN_TOKEN", adminToken,
        "CLOUD_SECRET_ACCESS_KEY", "planted-cloud-secret",
        "REINS_PASS_ENV", "JOB_MAY_SEE",
        "JOB_MAY_SEE", "let-through");
    serverEnv.remove("REINS_ADMIN_TOKEN");
    serverEnv.putAll(planted);
    int httpPort = ServerProcess.freePort();
    server = ServerProcess.start(dataDir, httpPort, ServerProcess.freePort(), planted);
    admin = new ApiClient(httpPort, adminToken);
    ServerProcess.awaitReady(admin);
  }

  @AfterAll
  void stopServer() {
    if (server != null) {
      server.destroy();
    }
  }

  @Test
  void aJobsEnvironmentHoldsNoneOfTheServersVariablesButTheAllowedOnes() throws Exception {
    HttpResponse<String> submitted = admin.post("/v1/runs", "{\"executor\":{\"type\":\"process\","
        + "\"command\":[\"sh\",\"-c\",\"env; echo env-printed; exec sleep 600\"],"
        + "\"env\":{\"RUN_OWN\":\"mine\",\"REINS_RUN_ID\":\"someone-elses\",\"REINS_TOKEN\":\"forged\"}}}");
    assertStatus(202, submitted, "submit");
    String run = ApiClient.json(submitted).get("id").asText();
    String output = admin.awaitOutput(run, 1, "env-printed", WAIT);
    Map<String, String> job = ApiClient.assignments(output.substring(0, output.indexOf("env-printed")));
    cancel(run);

    Set<String> fromServer = Set.of("PATH", "HOME", "LANG", "TZ", "JOB_MAY_SEE");
    Set<String> fromRun = Set.of("RUN_OWN");
    Set<String> fromReins = Set.of("REINS_RUN_ID", "REINS_ATTEMPT", "REINS_API_URL", "REINS_TOKEN");
    Set<String> unexpected = new TreeSet<>(job.keySet());
    unexpected.removeAll(fromServer);
    unexpected.removeAll(fromRun);
    unexpected.removeAll(fromReins);
    unexpected.removeAll(MADE_BY_THE_SHELL);
    assertEquals(Set.of(), unexpected, "the job sees variables it was never given");
    Set<String> leaked = new TreeSet<>(serverEnv.keySet());
    leaked.retainAll(job.keySet());
    leaked.removeAll(fromServer);
    leaked.removeAll(MADE_BY_THE_SHELL); // its value is the job's own directory: see the last assertion
    assertEquals(Set.of(), leaked, "the server's variables that reached the job");
    for (String secret : new String[] {"hunter2", adminToken, "planted-cloud-secret"}) {
      assertFalse(output.contains(secret), "the job's output shows the server's secret " + secret);
    }
    String testDatabase = System.getenv("REINS_TEST_JDBC_URL");
    if (testDatabase != null) {
      assertFalse(output.contains(testDatabase), "the test JVM's database URL reached the job");
    }

    assertEquals("let-through", job.get("JOB_MAY_SEE"), "REINS_PASS_ENV lets a named variable through");
    assertEquals(serverEnv.get("PATH"), job.get("PATH"));
    assertEquals("mine", job.get("RUN_OWN"));
    assertEquals(run, job.get("REINS_RUN_ID"), "a run cannot pose as another");
    assertEquals("1", job.get("REINS_ATTEMPT"));
    assertNotEquals("forged", job.get("REINS_TOKEN"));
    assertTrue(job.get("REINS_TOKEN").startsWith("eyJ"), "a per-run token: " + job.get("REINS_TOKEN"));
    assertEquals(dataDir.resolve("work").resolve(run).toRealPath().toString(), job.get("PWD"), "the shell's own PWD");
  }

  @Test
  void aJobsTokenReadsItsOwnRunOnlyAndOnlyWhileItsAttemptLives() throws Exception {
    String other = admin.submit("[\"sleep\",\"600\"]", null);
    String run = admin.submit("[\"sh\",\"-c\",\"echo token=$REINS_TOKEN; exec sleep 600\"]", null);
    ApiClient first = admin.as(tokenOf(run, 1));

    assertEquals(200, first.get("/v1/runs/" + run).statusCode(), "its own run");
    assertEquals(200, first.get("/v1/runs/" + run + "/events").statusCode(), "its own run's journal");
    assertStatus(404, first.get("/v1/runs/" + other), "another run is not there for it");
    assertStatus(404, first.get("/v1/runs/" + other + "/events"), "nor its journal");
    assertStatus(403, first.post("/v1/runs", "{\"executor\":{\"type\":\"process\",\"command\":[\"true\"]}}"),
        "a job cannot submit");
    assertStatus(403, first.get("/v1/admin/tokens"), "nor manage tokens");

    cancel(run);
    assertStatus(401, first.get("/v1/runs/" + run), "its attempt is over: the token is no credential any more");

    assertEquals(200, admin.post("/v1/runs/" + run + "/reset", null).statusCode());
    ApiClient second = admin.as(tokenOf(run, 2));
    assertEquals(200, second.get("/v1/runs/" + run).statusCode(), "the new attempt's token");
    assertStatus(401, first.get("/v1/runs/" + run), "after a reset the old attempt's token stays refused");

    cancel(run);
    cancel(other);
  }

  /** The token the attempt's process printed as {@code token=...}. */
  private String tokenOf(String run, int attempt) {
    String token = ApiClient.assignments(admin.awaitOutput(run, attempt, "token=", WAIT)).get("token");
    assertTrue(token != null && token.startsWith("eyJ"), "a per-run token: " + token);
    return token;
  }

  private void cancel(String run) throws Exception {
    HttpResponse<String> r = admin.post("/v1/runs/" + run + "/cancel?wait=30s", null);
    assertEquals(200, r.statusCode(), r.body());
  }

  private static void assertStatus(int status, HttpResponse<String> response, String why) {
    assertEquals(status, response.statusCode(), why + ": " + response.body());
  }
}
