package dev.reins.protocol.api;

import dev.reins.protocol.run.RunStatus;
import java.time.Instant;
import java.util.Map;

/**
 * A run as {@code GET /v1/runs} lists it: a row of the run list read model. {@code version} is the
 * sequence number of the last event the read model has applied (the run's own {@code GET} may be
 * ahead of it by what the projection has not read yet).
 */
public record RunSummary(
    String id,
    String tenant,
    RunStatus state,
    int attempt,
    Map<String, String> labels,
    String parentRunId,
    Instant createdAt,
    Instant updatedAt,
    long version) {
  public RunSummary {
    labels = labels == null ? Map.of() : Map.copyOf(labels);
  }
}
