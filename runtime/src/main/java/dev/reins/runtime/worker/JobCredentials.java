package dev.reins.runtime.worker;

import dev.reins.protocol.run.RunSpec;
import java.time.Duration;

/** The per-run token an attempt's process gets in {@code REINS_TOKEN}. */
@FunctionalInterface
public interface JobCredentials {
  String tokenFor(String runId, String tenant, int attempt, RunSpec spec);

  /** A token lives as long as its attempt can: the run's timeout, its grace and a margin. */
  static Duration lifetime(RunSpec spec) {
    return Duration.ofSeconds(spec.timeoutSeconds() + spec.cancelGraceSeconds()).plusMinutes(10);
  }

  /** For tests of the worker alone: a token no server accepts. */
  JobCredentials NONE = (runId, tenant, attempt, spec) -> "none";
}
