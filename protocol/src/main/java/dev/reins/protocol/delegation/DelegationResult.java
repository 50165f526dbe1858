package dev.reins.protocol.delegation;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * What a completed delegation produced: the peer's artifacts as text and JSON parts, or the child
 * run's final state and exit. Capped ({@code reins.delegations.result-cap}); {@code truncated}
 * says that parts were dropped or cut to stay under the cap.
 */
public record DelegationResult(List<Part> parts, ChildOutcome child, boolean truncated) {
  public DelegationResult {
    parts = parts == null ? List.of() : List.copyOf(parts);
  }

  /** One part of an artifact: {@code text} or {@code data}. */
  public record Part(String artifact, String text, JsonNode data) {
    /** A JSON {@code null} reads back as a {@code NullNode}: both mean no data, and compare equal. */
    public Part {
      data = data == null || data.isNull() || data.isMissingNode() ? null : data;
    }
  }

  /** A child run's end. */
  public record ChildOutcome(String runId, String state, Integer exitCode, String signal) {}
}
