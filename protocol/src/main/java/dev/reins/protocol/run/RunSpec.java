package dev.reins.protocol.run;

import java.util.Map;

/**
 * Everything a client asked for when it submitted a run, with defaults already applied. It is
 * stored in the {@link RunEvent.RunSubmitted} event, so two submissions with the same idempotency
 * key are compared on this value.
 */
public record RunSpec(
    ExecutorSpec executor,
    long timeoutSeconds,
    long cancelGraceSeconds,
    RetryPolicy retry,
    Map<String, String> labels,
    String idempotencyKey) {
  public RunSpec {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
  }
}
