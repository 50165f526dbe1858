package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.reins.http.PrometheusText;
import dev.reins.http.TestServer;
import dev.reins.runtime.metrics.ReinsMetrics;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code deploy/grafana/reins.json} is a dashboard Grafana can import, and every metric its
 * queries use is one a Reins server exports: checked against a real scrape after a run was
 * submitted, run, cancelled and delegated from.
 */
class GrafanaDashboardTest {
  private static final Path DASHBOARD = Path.of("grafana", "reins.json");
  private static final Pattern METRIC = Pattern.compile("\\breins_[a-z0-9_]+");
  private static final Duration PATIENCE = Duration.ofSeconds(30);

  @Test
  void everyMetricOfTheDashboardIsExportedByTheServer() throws Exception {
    JsonNode dashboard = new ObjectMapper().readTree(Files.readString(DASHBOARD));
    assertEquals("reins", dashboard.path("uid").asText());
    assertTrue(dashboard.path("panels").size() > 0, "panels");
    Set<String> used = new TreeSet<>();
    for (JsonNode panel : dashboard.path("panels")) {
      assertFalse(panel.path("title").asText().isBlank(), "every panel has a title: " + panel);
      assertTrue(panel.path("targets").size() > 0, "every panel queries something: " + panel.path("title"));
      for (JsonNode target : panel.path("targets")) {
        Matcher m = METRIC.matcher(target.path("expr").asText());
        while (m.find()) {
          used.add(m.group());
        }
      }
    }

    try (TestServer server = TestServer.start()) {
      String id = server.submit("[\"sleep\",\"600\"]", null);
      server.awaitState(id, "running", PATIENCE);
      HttpResponse<String> delegated = server.post("/v1/runs/" + id + "/delegations",
          "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}}}");
      assertEquals(202, delegated.statusCode(), delegated.body());
      String did = ApiJson.field(delegated.body(), "id");
      TestServer.awaitAssert(PATIENCE, () -> assertEquals("completed",
          ApiJson.field(server.get("/v1/runs/" + id + "/delegations/" + did).body(), "state")));
      assertEquals(200, server.post("/v1/runs/" + id + "/cancel?wait=20s", null).statusCode());
      // A remote agent (A2A) is beyond this test: its latency comes from the very call A2aClient makes
      ReinsMetrics.get(server.server.system()).remoteCall("SendMessage", "ok", 1_000_000);
      TestServer.awaitAssert(PATIENCE, () -> {
        Set<String> missing = new TreeSet<>(used);
        missing.removeAll(PrometheusText.parse(server.get("/metrics").body()).names());
        assertEquals(Set.of(), missing, "metrics the dashboard uses but the server does not export");
      });
    }
  }

  /** Reads one text field of a JSON answer. */
  private static final class ApiJson {
    static String field(String body, String name) throws Exception {
      return new ObjectMapper().readTree(body).path(name).asText();
    }
  }
}
