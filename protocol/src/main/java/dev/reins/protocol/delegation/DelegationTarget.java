package dev.reins.protocol.delegation;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.run.ProcessSpec;

/**
 * Where a delegation sends its work: an agent speaking the A2A protocol, or a child run in this
 * cluster. The JSON discriminator {@code type} is part of the journal format.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = DelegationTarget.A2a.class, name = "a2a"),
  @JsonSubTypes.Type(value = DelegationTarget.Run.class, name = "run"),
})
public sealed interface DelegationTarget {

  /** An A2A agent at {@code url} (its agent card is at {@code /.well-known/agent-card.json}). */
  record A2a(String url, Message message) implements DelegationTarget {}

  /** What the delegation sends: a text part and/or a data part. */
  record Message(String text, JsonNode data) {
    /** A JSON {@code null} reads back as a {@code NullNode}: both mean no data, and compare equal. */
    public Message {
      data = data == null || data.isNull() || data.isMissingNode() ? null : data;
    }
  }

  /** A child run with {@code parentRunId} set; {@code timeoutSeconds} as for any run. */
  record Run(ProcessSpec executor, long timeoutSeconds) implements DelegationTarget {}
}
