package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code REINS_LOG_FORMAT=json}: every line is one JSON object with the MDC's run id, attempt and
 * delegation id as fields, and every redaction of the text format holds (the inherited tests run
 * against the JSON lines' messages and stack traces).
 */
class JsonLogTest extends LogRedactionTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  protected String format() {
    return "json";
  }

  private List<JsonNode> lines() {
    List<JsonNode> out = new ArrayList<>();
    for (String line : super.logged().split("\\R")) {
      if (!line.isEmpty()) {
        try {
          out.add(JSON.readTree(line));
        } catch (Exception e) {
          throw new AssertionError("not a JSON line: " + line, e);
        }
      }
    }
    return out;
  }

  @Override
  protected String logged() {
    StringBuilder text = new StringBuilder();
    for (JsonNode line : lines()) {
      text.append(line.path("message").asText()).append(System.lineSeparator());
      if (line.has("stack_trace")) {
        text.append(line.get("stack_trace").asText());
      }
    }
    return text.toString();
  }

  @Test
  void aLineAboutARunCarriesItsIdsFromTheMdc() {
    context.getMDCAdapter().put("runId", "5b0e1c2d-0000-4000-8000-000000000001");
    context.getMDCAdapter().put("attempt", "2");
    context.getMDCAdapter().put("delegationId", "d-42");
    try {
      context.getLogger("dev.reins.runtime.run.RunEntity").warn("run stopped");
    } finally {
      context.getMDCAdapter().clear();
    }
    List<JsonNode> lines = lines();
    assertEquals(1, lines.size(), lines.toString());
    JsonNode line = lines.get(0);
    assertEquals("run stopped", line.path("message").asText());
    assertEquals("WARN", line.path("level").asText());
    assertEquals("dev.reins.runtime.run.RunEntity", line.path("logger_name").asText());
    assertTrue(line.hasNonNull("@timestamp"), line.toString());
    assertEquals("5b0e1c2d-0000-4000-8000-000000000001", line.path("runId").asText());
    assertEquals("2", line.path("attempt").asText());
    assertEquals("d-42", line.path("delegationId").asText());
  }

  @Test
  void aSecretInAnMdcFieldIsMaskedToo() {
    context.getMDCAdapter().put("authorization", "Bearer some-admin-secret");
    try {
      context.getLogger("dev.reins.test").info("request");
    } finally {
      context.getMDCAdapter().clear();
    }
    String raw = super.logged();
    assertFalse(raw.contains("some-admin-secret"), raw);
    assertEquals("Bearer ***", lines().get(0).path("authorization").asText());
  }

}
