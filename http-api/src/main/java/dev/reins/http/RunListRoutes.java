package dev.reins.http;

import dev.reins.persistence.Connections;
import dev.reins.persistence.runlist.RunList;
import dev.reins.persistence.runlist.RunListProjection;
import dev.reins.protocol.api.RunPage;
import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.run.RunStatus;
import java.sql.Connection;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * {@code GET /v1/runs}, the run list, read from its read model (never from the entities), and the
 * operators' view of the projections that keep it ({@code /v1/admin/projections}).
 */
final class RunListRoutes extends AllDirectives {
  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 1000;
  private static final Set<String> PARAMETERS = Set.of("state", "label", "parentRunId", "createdAfter", "limit", "cursor");
  private static final Pattern RUN_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

  private final ActorSystem<?> system;
  private final Connections connections;
  private final Executor blocking;
  private final Clock clock;

  RunListRoutes(ActorSystem<?> system, Connections connections, Executor blocking, Clock clock) {
    this.system = system;
    this.connections = connections;
    this.blocking = blocking;
    this.clock = clock;
  }

  List<Endpoint> endpoints() {
    return List.of(
        Endpoint.get("/runs", Access.scope(Scope.RUNS_READ), this::list),
        Endpoint.get("/admin/projections", Access.ofOperators(), c -> onSuccess(db(RunListProjection::lag), lag ->
            Json.complete(StatusCodes.OK, Map.of("projections", List.of(projectionView(lag))), List.of()))),
        Endpoint.post("/admin/projections/runs/rebuild", Access.ofOperators(), c ->
            entity(org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller.entityToString(), body ->
                onSuccess(RunListProjection.rebuild(system), done -> Json.complete(StatusCodes.ACCEPTED,
                    Map.of("projection", RunListProjection.NAME, "rebuilding", true,
                        "detail", "every slice starts again from offset zero; rows are rewritten as the journal is re-read "
                            + "(see GET /v1/admin/projections for the progress)"), List.of())))));
  }

  private Map<String, Object> projectionView(List<RunListProjection.SliceLag> slices) {
    long pending = slices.stream().mapToLong(RunListProjection.SliceLag::pendingEvents).sum();
    Optional<Instant> oldest = slices.stream().map(RunListProjection.SliceLag::oldestPendingAt)
        .filter(java.util.Objects::nonNull).min(Instant::compareTo);
    Map<String, Object> view = new LinkedHashMap<>();
    view.put("name", RunListProjection.NAME);
    view.put("pendingEvents", pending);
    view.put("lagMillis", oldest.map(t -> Math.max(0, clock.millis() - t.toEpochMilli())).orElse(0L));
    view.put("slices", slices);
    return view;
  }

  private Route list(Endpoint.Call c) {
    Map<String, List<String>> params = c.request().getUri().query().toMultiMap();
    Optional<String> unknown = params.keySet().stream().filter(p -> !PARAMETERS.contains(p)).sorted().findFirst();
    if (unknown.isPresent()) {
      return Problems.complete(Problem.invalidField(unknown.get(),
          "unknown query parameter (known: " + String.join(", ", PARAMETERS.stream().sorted().toList()) + ")"));
    }
    for (String single : List.of("state", "parentRunId", "createdAfter", "limit", "cursor")) {
      if (params.getOrDefault(single, List.of()).size() > 1) {
        return Problems.complete(Problem.invalidField(single, "given more than once"));
      }
    }
    RunStatus state = null;
    String stateParam = first(params, "state");
    if (stateParam != null) {
      state = Arrays.stream(RunStatus.values()).filter(s -> s.json().equals(stateParam)).findFirst().orElse(null);
      if (state == null) {
        return Problems.complete(Problem.invalidField("state", "one of " + Arrays.stream(RunStatus.values())
            .map(RunStatus::json).collect(Collectors.joining(", "))));
      }
    }
    Map<String, String> labels = new LinkedHashMap<>();
    for (String label : params.getOrDefault("label", List.of())) {
      int colon = label.indexOf(':');
      if (colon <= 0) {
        return Problems.complete(Problem.invalidField("label", "must be name:value, e.g. team:search; got '" + label + "'"));
      }
      String name = label.substring(0, colon);
      String value = label.substring(colon + 1);
      if (labels.containsKey(name) && !labels.get(name).equals(value)) {
        return Problems.complete(Problem.invalidField("label", "two values for the label '" + name + "'"));
      }
      labels.put(name, value);
    }
    String parent = first(params, "parentRunId");
    if (parent != null && !RUN_ID.matcher(parent).matches()) {
      return Problems.complete(Problem.invalidField("parentRunId", "must be a run id"));
    }
    Instant createdAfter = null;
    String after = first(params, "createdAfter");
    if (after != null) {
      try {
        createdAfter = Instant.parse(after);
      } catch (DateTimeParseException e) {
        return Problems.complete(Problem.invalidField("createdAfter", "must be an ISO-8601 instant, e.g. 2026-01-31T12:00:00Z"));
      }
    }
    int limit = DEFAULT_LIMIT;
    String limitParam = first(params, "limit");
    if (limitParam != null) {
      try {
        limit = Integer.parseInt(limitParam);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > MAX_LIMIT) {
        return Problems.complete(Problem.invalidField("limit", "must be a whole number from 1 to " + MAX_LIMIT));
      }
    }
    RunList.Cursor cursor = null;
    String cursorParam = first(params, "cursor");
    if (cursorParam != null) {
      cursor = RunList.Cursor.decode(cursorParam).orElse(null);
      if (cursor == null) {
        return Problems.complete(Problem.invalidField("cursor", "not a cursor this server gave (use the 'next' of a page)"));
      }
    }
    RunList.Query query = new RunList.Query(c.tenant(), state, labels, parent, createdAfter, cursor, limit);
    CompletionStage<RunPage> page = db(conn -> RunList.page(conn, query));
    return onSuccess(page, p -> Json.complete(StatusCodes.OK, p, List.of()));
  }

  private static String first(Map<String, List<String>> params, String name) {
    List<String> values = params.get(name);
    return values == null || values.isEmpty() ? null : values.get(0);
  }

  @FunctionalInterface
  private interface Sql<T> {
    T call(Connection c) throws Exception;
  }

  private <T> CompletionStage<T> db(Sql<T> call) {
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = connections.open()) {
        return call.call(c);
      } catch (Exception e) {
        throw new CompletionException(e);
      }
    }, blocking);
  }
}
