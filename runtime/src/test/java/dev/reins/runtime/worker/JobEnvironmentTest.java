package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A job's environment is built from nothing: what the server has stays with the server. */
class JobEnvironmentTest {
  private static final Map<String, String> SERVER = Map.of(
      "PATH", "/opt/server/bin:/usr/bin",
      "HOME", "/home/reins",
      "LANG", "C.UTF-8",
      "REINS_DB_PASSWORD", "hunter2",
      "REINS_ADMIN_TOKEN", "admin-secret",
      "AWS_SECRET_ACCESS_KEY", "aws-secret",
      "HTTP_PROXY", "http://proxy:3128");
  private static final Map<String, String> REINS = Map.of(
      "REINS_RUN_ID", "run-1",
      "REINS_ATTEMPT", "2",
      "REINS_API_URL", "http://127.0.0.1:8080",
      "REINS_TOKEN", "the-run-token");

  @Test
  void onlyTheBaseNamesComeFromTheServer() {
    Map<String, String> env = JobEnvironment.build(SERVER, List.of(), Map.of(), REINS);
    assertEquals(Map.of(
        "PATH", "/opt/server/bin:/usr/bin",
        "HOME", "/home/reins",
        "LANG", "C.UTF-8",
        "REINS_RUN_ID", "run-1",
        "REINS_ATTEMPT", "2",
        "REINS_API_URL", "http://127.0.0.1:8080",
        "REINS_TOKEN", "the-run-token"), env);
  }

  @Test
  void passEnvLetsNamedVariablesThroughAndNothingElse() {
    Map<String, String> env = JobEnvironment.build(SERVER, List.of("HTTP_PROXY", "NOT_SET_ON_THE_SERVER"), Map.of(), REINS);
    assertEquals("http://proxy:3128", env.get("HTTP_PROXY"));
    assertFalse(env.containsKey("NOT_SET_ON_THE_SERVER"));
    assertFalse(env.containsKey("AWS_SECRET_ACCESS_KEY"));
  }

  @Test
  void withoutAPathOnTheServerAJobStillFindsTheSystemsCommands() {
    Map<String, String> env = JobEnvironment.build(Map.of("HOME", "/root"), List.of(), Map.of(), REINS);
    assertEquals(JobEnvironment.DEFAULT_PATH, env.get("PATH"));
    assertEquals("/usr/local/bin:/usr/bin:/bin", env.get("PATH"));
  }

  @Test
  void theRunsOwnEnvironmentComesOnTopOfTheBase() {
    Map<String, String> env = JobEnvironment.build(
        SERVER, List.of(), Map.of("PATH", "/work/bin", "MODEL", "small", "TZ", "UTC"), REINS);
    assertEquals("/work/bin", env.get("PATH"));
    assertEquals("small", env.get("MODEL"));
    assertEquals("UTC", env.get("TZ"));
  }

  @Test
  void aRunCannotOverrideWhatReinsSets() {
    Map<String, String> env = JobEnvironment.build(SERVER, List.of(), Map.of(
        "REINS_RUN_ID", "someone-elses-run",
        "REINS_ATTEMPT", "1",
        "REINS_API_URL", "http://evil.example",
        "REINS_TOKEN", "forged",
        "REINS_OWN_SETTING", "kept"), REINS);
    REINS.forEach((name, value) -> assertEquals(value, env.get(name), name));
    // a REINS_ name Reins does not set is the run's own business
    assertEquals("kept", env.get("REINS_OWN_SETTING"));
  }

  @Test
  void passEnvCannotSmuggleInWhatReinsSetsEither() {
    Map<String, String> env = JobEnvironment.build(
        Map.of("REINS_TOKEN", "servers-own"), List.of("REINS_TOKEN", "REINS_DB_PASSWORD"), Map.of(), REINS);
    assertEquals("the-run-token", env.get("REINS_TOKEN"));
    assertEquals(Set.of("PATH", "REINS_RUN_ID", "REINS_ATTEMPT", "REINS_API_URL", "REINS_TOKEN"), env.keySet());
  }
}
