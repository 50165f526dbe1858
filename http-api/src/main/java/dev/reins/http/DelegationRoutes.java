package dev.reins.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.reins.protocol.api.CreateDelegationRequest;
import dev.reins.protocol.api.DelegationView;
import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.protocol.run.RunDelegation;
import dev.reins.runtime.delegation.A2aAllowlist;
import dev.reins.runtime.delegation.DelegationEntity;
import dev.reins.runtime.run.RunEntity;
import dev.reins.runtime.run.RunEntity.Outcome;
import dev.reins.runtime.run.Runs;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * {@code /v1/runs/{id}/delegations}: the run decides (it journals the request, then starts the
 * delegation, which journals its own life); these routes only turn HTTP into asks. A run's own
 * per-run token may delegate from it and manage those delegations.
 */
final class DelegationRoutes extends AllDirectives {
  private static final Pattern UUID_TEXT = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

  private final ActorSystem<?> system;
  private final Runs runs;
  private final ClusterSharding sharding;
  private final CreateDelegationRequest.Defaults defaults;
  private final A2aAllowlist allowlist;
  private final Duration askTimeout;

  DelegationRoutes(ActorSystem<?> system, Runs runs, CreateDelegationRequest.Defaults defaults, A2aAllowlist allowlist,
      Duration askTimeout) {
    this.system = system;
    this.runs = runs;
    this.sharding = ClusterSharding.get(system);
    this.defaults = defaults;
    this.allowlist = allowlist;
    this.askTimeout = askTimeout;
  }

  List<Endpoint> endpoints() {
    return List.of(
        Endpoint.post("/runs/{id}/delegations", Access.scopeOrOwnRun(Scope.DELEGATIONS_WRITE), c -> ids(c, () ->
            entity(Unmarshaller.entityToString(), body -> create(c, body)))),
        Endpoint.get("/runs/{id}/delegations", Access.scopeOrOwnRun(Scope.RUNS_READ), c -> ids(c, () -> list(c))),
        Endpoint.get("/runs/{id}/delegations/{did}", Access.scopeOrOwnRun(Scope.RUNS_READ), c -> ids(c, () ->
            parameterOptional("wait", wait -> one(c, wait)))),
        Endpoint.post("/runs/{id}/delegations/{did}/cancel", Access.scopeOrOwnRun(Scope.DELEGATIONS_WRITE), c -> ids(c, () ->
            cancel(c))));
  }

  /** Run and delegation ids are UUIDs; anything else names nothing. */
  private Route ids(Endpoint.Call c, Supplier<Route> inner) {
    String did = c.param("did");
    if (!UUID_TEXT.matcher(c.param("id")).matches()) {
      return Problems.complete(Problem.notFound("no run with id '" + c.param("id") + "'"));
    }
    if (did != null && !UUID_TEXT.matcher(did).matches()) {
      return Problems.complete(Problem.notFound("no delegation with id '" + did + "'"));
    }
    return inner.get();
  }

  private Route create(Endpoint.Call c, String body) {
    CreateDelegationRequest request;
    try {
      request = body.isBlank() ? null : Json.read(body, CreateDelegationRequest.class);
    } catch (JsonProcessingException e) {
      return Problems.complete(Problems.fromJson(e));
    }
    if (request == null) {
      return Problems.complete(Problem.invalidField("target", "a JSON body with a target is required"));
    }
    CreateDelegationRequest.Validated v = request.toSpec(defaults);
    if (!v.isValid()) {
      return Problems.complete(Problem.invalidField(v.field(), v.detail()));
    }
    DelegationSpec spec = v.spec();
    if (spec.target() instanceof DelegationTarget.A2a a2a && !allowlist.allows(a2a.url())) {
      // refused before anything is journaled: a run must not turn the server into a proxy
      return Problems.complete(Problem.of(403, "target-not-allowed", "Target not allowed",
          "the agent at " + a2a.url() + " is not among the allowed targets (REINS_A2A_ALLOWED_URLS)"));
    }
    String runId = c.param("id");
    String delegationId = spec.idempotencyKey() == null
        ? UUID.randomUUID().toString()
        : UUID.nameUUIDFromBytes(("reins-delegation:" + runId + ":" + spec.idempotencyKey()).getBytes(StandardCharsets.UTF_8)).toString();
    return onSuccess(runs.delegate(runId, c.caller().runAccess(), delegationId, spec), reply -> switch (reply.outcome()) {
      case CREATED -> Json.complete(StatusCodes.ACCEPTED, DelegationView.requested(runId, reply.delegation()),
          List.of(c.location(location(runId, delegationId))));
      case EXISTS -> onSuccess(view(runId, reply.delegation(), c.tenant()), view -> Json.complete(StatusCodes.OK, view,
          List.of(c.location(location(runId, delegationId)))));
      default -> problem(reply.outcome(), reply.detail());
    });
  }

  private Route list(Endpoint.Call c) {
    String runId = c.param("id");
    return onSuccess(runs.get(runId, c.caller().runAccess()), reply -> {
      if (reply.outcome() != Outcome.UNCHANGED) {
        return problem(reply.outcome(), reply.detail());
      }
      List<CompletableFuture<DelegationView>> views = new ArrayList<>();
      for (RunDelegation d : reply.state().delegations().values()) {
        views.add(view(runId, d, c.tenant()).toCompletableFuture());
      }
      CompletionStage<List<DelegationView>> all = CompletableFuture.allOf(views.toArray(CompletableFuture[]::new))
          .thenApply(done -> views.stream().map(CompletableFuture::join).toList());
      return onSuccess(all, list -> Json.complete(StatusCodes.OK, list, List.of()));
    });
  }

  private Route one(Endpoint.Call c, Optional<String> waitParam) {
    Duration wait;
    try {
      wait = RunRoutes.parseWait(waitParam);
    } catch (IllegalArgumentException e) {
      return Problems.complete(Problem.invalidField("wait", e.getMessage()));
    }
    String runId = c.param("id");
    String did = c.param("did");
    return withDelegation(c, d -> {
      CompletionStage<DelegationView> view = wait.isZero()
          ? view(runId, d, c.tenant())
          : ref(did).<DelegationEntity.Reply>ask(r -> new DelegationEntity.AwaitEnd(c.tenant(), r), wait)
              .thenCompose(r -> r.outcome() == DelegationEntity.Outcome.NOT_FOUND
                  ? CompletableFuture.completedFuture(DelegationView.requested(runId, d))
                  : CompletableFuture.completedFuture(DelegationView.of(r.state())))
              .exceptionallyCompose(e -> view(runId, d, c.tenant()));
      return RunRoutes.longPoll(wait, () -> onSuccess(view, v -> Json.complete(StatusCodes.OK, v, List.of())));
    });
  }

  private Route cancel(Endpoint.Call c) {
    String runId = c.param("id");
    String did = c.param("did");
    return withDelegation(c, d -> {
      EntityRef<DelegationEntity.Command> ref = ref(did);
      // a delegation the run asked for but that has not started yet: start it, then cancel it
      // (in this order: one sender's messages arrive in order)
      ref.tell(new DelegationEntity.Start(did, runId, c.tenant(), d.spec(), d.deadline(), system.ignoreRef()));
      CompletionStage<DelegationEntity.Reply> reply =
          ref.ask(r -> new DelegationEntity.Cancel(c.tenant(), "cancelled by a client", r), askTimeout);
      return onSuccess(reply, r -> r.outcome() == DelegationEntity.Outcome.NOT_FOUND
          ? Problems.complete(Problem.notFound("no delegation with id '" + did + "'"))
          : Json.complete(r.state().status().isTerminal() ? StatusCodes.OK : StatusCodes.ACCEPTED, DelegationView.of(r.state()),
              List.of()));
    });
  }

  /** The run's record of delegation {@code did}, when the caller may see the run (else its problem). */
  private Route withDelegation(Endpoint.Call c, java.util.function.Function<RunDelegation, Route> inner) {
    String runId = c.param("id");
    String did = c.param("did");
    return onSuccess(runs.get(runId, c.caller().runAccess()), reply -> {
      if (reply.outcome() != Outcome.UNCHANGED) {
        return problem(reply.outcome(), reply.detail());
      }
      RunDelegation d = reply.state().delegations().get(did);
      if (d == null) {
        return Problems.complete(Problem.notFound("run " + runId + " has no delegation with id '" + did + "'"));
      }
      return inner.apply(d);
    });
  }

  /** The delegation's own view; the run's record while the delegation has not journaled anything. */
  private CompletionStage<DelegationView> view(String runId, RunDelegation d, String tenant) {
    return ref(d.id()).<DelegationEntity.Reply>ask(r -> new DelegationEntity.Get(tenant, r), askTimeout)
        .thenApply(r -> r.outcome() == DelegationEntity.Outcome.NOT_FOUND ? DelegationView.requested(runId, d) : DelegationView.of(r.state()));
  }

  private EntityRef<DelegationEntity.Command> ref(String delegationId) {
    return sharding.entityRefFor(DelegationEntity.TYPE_KEY, delegationId);
  }

  private static String location(String runId, String delegationId) {
    return "/v1/runs/" + runId + "/delegations/" + delegationId;
  }

  private static Route problem(Outcome outcome, String detail) {
    return switch (outcome) {
      case NOT_FOUND -> Problems.complete(Problem.notFound(detail));
      case ATTEMPT_ENDED -> Problems.unauthorized(detail, true);
      case INVALID_STATE -> Problems.complete(Problem.of(409, "invalid-state", "Not allowed in this state", detail));
      case IDEMPOTENCY_CONFLICT -> Problems.complete(Problem.of(409, "idempotency-conflict", "Idempotency key reused", detail));
      case LIMIT_REACHED -> Problems.complete(Problem.of(409, "delegation-limit", "Too many delegations", detail));
      default -> Problems.complete(Problem.of(500, "internal", "Internal error", "unexpected outcome " + outcome));
    };
  }
}
