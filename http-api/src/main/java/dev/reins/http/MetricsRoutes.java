package dev.reins.http;

import dev.reins.persistence.Connections;
import dev.reins.persistence.runlist.RunList;
import dev.reins.persistence.runlist.RunListProjection;
import dev.reins.protocol.auth.Scope;
import dev.reins.runtime.metrics.ReinsMetrics;
import java.sql.Connection;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code GET /metrics} (also {@code /v1/metrics}): the node's meters as Prometheus text. Closed
 * like every route: a token of the default tenant with scope {@code metrics:read} (or admin),
 * since the numbers are the whole cluster's, every tenant's. Before each scrape the gauges read
 * from the database (runs by state from the run list, the projection's lag) are refreshed.
 */
final class MetricsRoutes extends AllDirectives {
  static final String PATH = "/metrics";
  /** Prometheus' text exposition format, version 0.0.4. */
  private static final ContentType TEXT_FORMAT =
      ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

  private final ReinsMetrics metrics;
  private final Connections connections;
  private final Executor blocking;
  private final Clock clock;

  MetricsRoutes(ReinsMetrics metrics, Connections connections, Executor blocking, Clock clock) {
    this.metrics = metrics;
    this.connections = connections;
    this.blocking = blocking;
    this.clock = clock;
  }

  List<Endpoint> endpoints() {
    return List.of(Endpoint.get(PATH, Access.ofOperators(Scope.METRICS_READ), c -> scrape()));
  }

  private Route scrape() {
    if (!metrics.enabled()) {
      return Problems.complete(Problem.of(404, "not-found", "Not found", "metrics are off on this node (REINS_METRICS_ENABLED)"));
    }
    return onSuccess(refresh(), text -> complete(HttpResponse.create().withStatus(StatusCodes.OK)
        .withEntity(HttpEntities.create(TEXT_FORMAT, text.getBytes(java.nio.charset.StandardCharsets.UTF_8)))));
  }

  /** The database gauges, then the text; a database that does not answer leaves them as they were. */
  private CompletionStage<String> refresh() {
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = connections.open()) {
        metrics.runsByState(RunList.countByState(c));
        List<RunListProjection.SliceLag> lag = RunListProjection.lag(c);
        long pending = lag.stream().mapToLong(RunListProjection.SliceLag::pendingEvents).sum();
        long lagMillis = lag.stream().map(RunListProjection.SliceLag::oldestPendingAt).filter(Objects::nonNull)
            .min(Instant::compareTo).map(t -> Math.max(0, clock.millis() - t.toEpochMilli())).orElse(0L);
        metrics.projectionLag(pending, lagMillis);
      } catch (Exception e) {
        // the node's own meters are still worth scraping; the database gauges keep their last values
        metrics.registry().counter("reins.metrics.refresh.failures").increment();
      }
      return metrics.scrape().orElse("");
    }, blocking);
  }
}
