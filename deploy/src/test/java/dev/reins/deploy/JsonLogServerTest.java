package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.OutputStreamAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.reins.http.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A real server logging with the server's logback.xml in JSON: the worker's line about stopping a
 * cancelled run's process carries the run id and attempt from the MDC, and every line parses.
 * (The server of this test runs in this JVM, so the JVM's logging is switched for its duration.)
 */
class JsonLogServerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void linesAboutARunCarryItsIdAndAttempt() throws Exception {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    String runId;
    configure(context, JsonLogServerTest.class.getClassLoader().getResource("logback.xml"), "json", out);
    try (TestServer server = TestServer.start(Map.of())) {
      runId = server.submit("[\"sleep\",\"600\"]", null);
      server.awaitState(runId, "running", Duration.ofSeconds(30));
      assertEquals(200, server.post("/v1/runs/" + runId + "/cancel?wait=20s", null).statusCode());
    } finally {
      configure(context, JsonLogServerTest.class.getClassLoader().getResource("logback-test.xml"), null, null);
    }
    List<JsonNode> lines = new ArrayList<>();
    for (String line : out.toString(StandardCharsets.UTF_8).split("\\R")) {
      if (!line.isBlank()) {
        lines.add(JSON.readTree(line)); // every line is one JSON object
      }
    }
    assertTrue(lines.size() > 5, "the server logged: " + lines.size());
    String id = runId;
    JsonNode stop = lines.stream().filter(l -> l.path("message").asText().contains("TERM to pid")).findFirst()
        .orElseThrow(() -> new AssertionError("no line about stopping the process: " + lines));
    assertEquals(id, stop.path("runId").asText(), stop.toString());
    assertEquals("1", stop.path("attempt").asText(), stop.toString());
  }

  private static void configure(LoggerContext context, URL config, String format, OutputStream to) throws Exception {
    context.reset();
    if (format != null) {
      context.putProperty("REINS_LOG_FORMAT", format);
    }
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(context);
    configurator.doConfigure(config);
    if (to != null) {
      ((OutputStreamAppender<?>) context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDOUT")).setOutputStream(to);
    }
  }
}
