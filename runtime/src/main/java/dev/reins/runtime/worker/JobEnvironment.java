package dev.reins.runtime.worker;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The environment of a job's process, built from nothing: the server's own environment holds its
 * secrets (database password, admin token, cloud credentials) and a job must never see them. A
 * job gets {@link #BASE} and the names the operator lets through ({@code REINS_PASS_ENV}) from the
 * server's environment, then the run's own {@code executor.env}, then the {@code REINS_*}
 * variables Reins sets for it, which the run cannot override.
 */
public final class JobEnvironment {
  /** Taken from the server's environment when set there. */
  public static final List<String> BASE = List.of("PATH", "HOME", "LANG", "TZ");

  /** PATH when the server has none: a job must still find {@code sh}. */
  static final String DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

  private JobEnvironment() {}

  /**
   * @param server the server's environment ({@code System.getenv()})
   * @param passEnv further names to take from it
   * @param runEnv the run's {@code executor.env}
   * @param reins what Reins sets: {@code REINS_RUN_ID}, {@code REINS_TOKEN}, ...
   */
  public static Map<String, String> build(
      Map<String, String> server, List<String> passEnv, Map<String, String> runEnv, Map<String, String> reins) {
    Map<String, String> env = new TreeMap<>();
    for (String name : BASE) {
      copy(server, name, env);
    }
    for (String name : passEnv) {
      copy(server, name, env);
    }
    env.putIfAbsent("PATH", DEFAULT_PATH);
    env.putAll(runEnv);
    // after the run's own: a run cannot pose as another run or replace its token
    env.keySet().removeIf(name -> name.startsWith("REINS_") && reins.containsKey(name));
    env.putAll(reins);
    return env;
  }

  private static void copy(Map<String, String> from, String name, Map<String, String> to) {
    String value = from.get(name);
    if (value != null) {
      to.put(name, value);
    }
  }
}
