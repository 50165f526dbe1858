package dev.reins.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.reins.persistence.JournalHealth;
import dev.reins.persistence.RunJournal;
import dev.reins.protocol.api.CancelRequest;
import dev.reins.protocol.api.ResetRequest;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.run.RunStatus;
import dev.reins.runtime.run.RunEntity;
import dev.reins.runtime.run.RunEntity.Outcome;
import dev.reins.runtime.run.RunAccess;
import dev.reins.runtime.run.Runs;
import dev.reins.runtime.tenant.TenantQuota;
import dev.reins.protocol.auth.Scope;
import dev.reins.runtime.worker.LogServer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.ETag;
import org.apache.pekko.http.javadsl.model.headers.EntityTag;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.pattern.AskTimeoutException;

/**
 * {@code /v1/runs}: each route turns HTTP into one ask of the run's entity (or one journal query)
 * and the answer back into HTTP. No decision about a run is taken here.
 */
final class RunRoutes extends AllDirectives {
  /** Tells a client whether its cancel or reset changed the run or found it already so. */
  static final String OUTCOME_HEADER = "Reins-Outcome";

  private static final Pattern RUN_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final Pattern WAIT = Pattern.compile("(\\d+)(ms|s)?");
  private static final Duration MAX_WAIT = Duration.ofSeconds(60);
  private static final int MAX_TAIL = 10 * 1024 * 1024;

  private final Runs runs;
  private final TenantQuota.Client quota;
  private final RunJournal journal;
  private final SubmitRunRequest.Defaults defaults;
  private final ActorRef<LogServer.Command> logs;
  private final Duration askTimeout;
  private final Scheduler scheduler;

  RunRoutes(
      Runs runs, TenantQuota.Client quota, RunJournal journal, SubmitRunRequest.Defaults defaults,
      ActorRef<LogServer.Command> logs, Duration askTimeout, Scheduler scheduler) {
    this.runs = runs;
    this.quota = quota;
    this.logs = logs;
    this.askTimeout = askTimeout;
    this.scheduler = scheduler;
    this.journal = journal;
    this.defaults = defaults;
  }

  /** The run endpoints: who may call each, and what answers. */
  List<Endpoint> endpoints() {
    return List.of(
        Endpoint.post("/runs", Access.scope(Scope.RUNS_SUBMIT), c -> body(b -> submit(c, b), c)),
        Endpoint.get("/runs/{id}", Access.scopeOrOwnRun(Scope.RUNS_READ), c -> runId(c, () ->
            parameterOptional("atSeq", atSeq -> parameterOptional("at", at -> get(c, atSeq, at))))),
        Endpoint.post("/runs/{id}/cancel", Access.scope(Scope.RUNS_CANCEL), c -> runId(c, () ->
            parameterOptional("wait", wait -> body(b -> cancel(c, b, wait), c)))),
        Endpoint.post("/runs/{id}/reset", Access.scope(Scope.RUNS_RESET), c -> runId(c, () -> body(b -> reset(c, b), c))),
        Endpoint.get("/runs/{id}/events", Access.scopeOrOwnRun(Scope.RUNS_READ), c -> runId(c, () -> events(c))),
        Endpoint.get("/runs/{id}/logs", Access.scopeOrOwnRun(Scope.RUNS_READ), c -> runId(c, () ->
            parameterOptional("attempt", attempt -> parameterOptional("tail", tail -> logs(c, attempt, tail))))));
  }

  private Route body(java.util.function.Function<String, Route> inner, Endpoint.Call c) {
    return entity(Unmarshaller.entityToString(), inner::apply);
  }

  /** Run ids are UUIDs; anything else cannot name a run (and never reaches the file system). */
  private Route runId(Endpoint.Call c, Supplier<Route> inner) {
    String id = c.param("id");
    if (!RUN_ID.matcher(id).matches()) {
      return Problems.complete(Problem.notFound("no run with id '" + id + "'"));
    }
    return inner.get();
  }

  private Route submit(Endpoint.Call c, String body) {
    SubmitRunRequest request;
    try {
      if (body.isBlank()) {
        return Problems.complete(Problem.invalidField("executor.command", "a JSON body with executor.command is required"));
      }
      request = Json.read(body, SubmitRunRequest.class);
      if (request == null) {
        return Problems.complete(Problem.invalidField("executor.command", "a JSON object with executor.command is required"));
      }
    } catch (JsonProcessingException e) {
      return Problems.complete(Problems.fromJson(e));
    }
    SubmitRunRequest.Validated v = request.toSpec(defaults);
    if (!v.isValid()) {
      return Problems.complete(Problem.invalidField(v.field(), v.detail()));
    }
    String tenant = c.tenant();
    String runId = Runs.newRunId(tenant, request.idempotencyKey());
    return onSuccess(quota.admit(tenant, runId), admission -> {
      if (!admission.admitted()) {
        return Problems.tooManyRequests(admission.detail(), admission.retryAfter());
      }
      CompletionStage<RunEntity.Reply> submitted = runs.submit(runId, tenant, v.spec()).whenComplete((reply, e) -> {
        if (unwrap(e) instanceof JournalHealth.JournalUnavailable) {
          // the run was not created (or will be, once the database is back, and hold its own lease)
          quota.release(tenant, runId);
        }
      });
      return onSuccess(submitted, reply -> {
        if (reply.outcome() != Outcome.CREATED) {
          releaseUnlessLive(tenant, runId, reply);
        }
        return switch (reply.outcome()) {
          case CREATED -> run(StatusCodes.ACCEPTED, reply, List.of(c.location("/v1/runs/" + runId)));
          case EXISTS -> run(StatusCodes.OK, reply, List.of(c.location("/v1/runs/" + runId)));
          default -> problemFor(reply);
        };
      });
    });
  }

  /**
   * The run now (a 304 when {@code If-None-Match} names its version), or, with {@code atSeq} or
   * {@code at}, as it was: its events up to there folded by the same {@code RunState.apply} that
   * recovers the entity. The caller's view of the run decides first, as for every read.
   */
  private Route get(Endpoint.Call c, Optional<String> atSeqParam, Optional<String> atParam) {
    if (atSeqParam.isPresent() && atParam.isPresent()) {
      return Problems.complete(Problem.invalidField("at", "give atSeq or at, not both"));
    }
    Long atSeq = null;
    Instant at = null;
    if (atSeqParam.isPresent()) {
      if (!atSeqParam.get().matches("\\d{1,18}") || Long.parseLong(atSeqParam.get()) < 1) {
        return Problems.complete(Problem.invalidField("atSeq", "a sequence number of the run's events (1 or more)"));
      }
      atSeq = Long.parseLong(atSeqParam.get());
    }
    if (atParam.isPresent()) {
      try {
        at = Instant.parse(atParam.get());
      } catch (DateTimeParseException e) {
        return Problems.complete(Problem.invalidField("at", "an ISO-8601 instant such as 2026-01-31T12:00:00Z"));
      }
    }
    String id = c.param("id");
    Long seq = atSeq;
    Instant when = at;
    return onSuccess(runs.get(id, c.caller().runAccess()), reply -> {
      if (reply.outcome() != Outcome.UNCHANGED) {
        return problemFor(reply);
      }
      if (seq == null && when == null) {
        return conditional(etag(reply.version()), () -> run(StatusCodes.OK, reply, List.of()));
      }
      if (seq != null && seq > reply.version()) {
        return Problems.complete(Problem.invalidField("atSeq", "the run has events 1 to " + reply.version()));
      }
      return onSuccess(seq != null ? journal.replay(id, seq) : journal.replayAt(id, when), past -> past.version() == 0
          ? Problems.complete(Problem.notFound("run " + id + " did not exist yet at " + when))
          : conditional(etag(past.version()), () -> run(StatusCodes.OK,
              new RunEntity.Reply(Outcome.UNCHANGED, past.state(), past.version(), null), List.of())));
    });
  }

  private static EntityTag etag(long version) {
    return EntityTag.create(Long.toString(version), false);
  }

  private Route cancel(Endpoint.Call c, String body, Optional<String> waitParam) {
    String id = c.param("id");
    RunAccess access = c.caller().runAccess();
    CancelRequest request;
    Duration wait;
    try {
      request = Optional.ofNullable(body.isBlank() ? null : Json.read(body, CancelRequest.class)).orElse(CancelRequest.EMPTY);
      wait = parseWait(waitParam);
    } catch (JsonProcessingException e) {
      return Problems.complete(Problems.fromJson(e));
    } catch (IllegalArgumentException e) {
      return Problems.complete(Problem.invalidField("wait", e.getMessage()));
    }
    if (request.reason() != null && request.reason().length() > 1000) {
      return Problems.complete(Problem.invalidField("reason", "at most 1000 characters"));
    }
    CompletionStage<Route> answer =
        runs.cancel(id, access, request.reason(), request.attempt())
            .thenCompose(reply -> {
              boolean accepted = reply.outcome() == Outcome.CHANGED || reply.outcome() == Outcome.UNCHANGED;
              if (!accepted || reply.state().status() != RunStatus.CANCELLING || wait.isZero()) {
                return CompletableFuture.completedFuture(cancelResponse(reply, reply.outcome()));
              }
              // The cancel is journaled, so the answer is about it and never a 503: the run as the
              // cancel left it when it cannot be read again now (the journal went down meanwhile).
              return runs.awaitTerminal(id, access, wait)
                  .exceptionallyCompose(e -> isTimeout(e) ? runs.get(id, access) : CompletableFuture.failedStage(e))
                  .exceptionally(e -> {
                    if (isTimeout(e) || unwrap(e) instanceof JournalHealth.JournalUnavailable) {
                      return reply;
                    }
                    throw new CompletionException(unwrap(e));
                  })
                  .thenApply(latest -> cancelResponse(latest, reply.outcome()));
            });
    return longPoll(wait, () -> onSuccess(answer, r -> r));
  }

  /**
   * A long poll may outlast the server's request timeout (Pekko HTTP's 20 s by default, and a wait
   * may be 60 s): the request gets the wait, plus time to answer, instead of a 503 halfway.
   */
  static Route longPoll(Duration wait, Supplier<Route> inner) {
    if (wait.isZero()) {
      return inner.get();
    }
    return new AllDirectives() {}.withRequestTimeout(wait.plus(LONG_POLL_MARGIN), inner);
  }

  private static final Duration LONG_POLL_MARGIN = Duration.ofSeconds(15);

  private Route cancelResponse(RunEntity.Reply reply, Outcome outcome) {
    return switch (outcome) {
      case CHANGED, UNCHANGED, ALREADY_TERMINAL -> run(
          reply.state().status().isTerminal() ? StatusCodes.OK : StatusCodes.ACCEPTED,
          reply,
          List.of(RawHeader.create(OUTCOME_HEADER, outcome == Outcome.CHANGED ? "changed" : outcome.name().toLowerCase(Locale.ROOT))));
      default -> problemFor(reply);
    };
  }

  private Route reset(Endpoint.Call c, String body) {
    String id = c.param("id");
    ResetRequest request;
    try {
      request = Optional.ofNullable(body.isBlank() ? null : Json.read(body, ResetRequest.class)).orElse(ResetRequest.EMPTY);
    } catch (JsonProcessingException e) {
      return Problems.complete(Problems.fromJson(e));
    }
    // a reset starts a new attempt: an active run again, admitted like a new one
    String tenant = c.tenant();
    return onSuccess(quota.admit(tenant, id), admission -> {
      if (!admission.admitted()) {
        return Problems.tooManyRequests(admission.detail(), admission.retryAfter());
      }
      return onSuccess(runs.reset(id, c.caller().runAccess(), request.attempt()), reply -> {
        if (reply.outcome() != Outcome.CHANGED) {
          releaseUnlessLive(tenant, id, reply);
          return problemFor(reply);
        }
        return run(StatusCodes.OK, reply, List.of(RawHeader.create(OUTCOME_HEADER, "changed")));
      });
    });
  }

  /**
   * After a command that admission let in but that did not make the run live: gives the lease
   * back, unless the run was live already (and the lease is its own). A run of another tenant
   * answers as no run at all, so the caller's own count gets its lease back.
   */
  private void releaseUnlessLive(String tenant, String runId, RunEntity.Reply reply) {
    if (!reply.state().exists() || reply.state().status().isTerminal()) {
      quota.release(tenant, runId);
    }
  }

  /** The caller's view of the run decides first (tenant, per-run token); then the journal answers. */
  private Route events(Endpoint.Call c) {
    String id = c.param("id");
    return onSuccess(runs.get(id, c.caller().runAccess()), reply -> {
      if (reply.outcome() != Outcome.UNCHANGED) {
        return problemFor(reply);
      }
      // the run's version names its journal as it is: a client that has it need not read it again
      return conditional(etag(reply.version()), () -> onSuccess(journal.events(id), events -> events.isEmpty()
          ? Problems.complete(Problem.notFound("no run with that id"))
          : Json.complete(StatusCodes.OK, events, List.of(ETag.create(etag(events.get(events.size() - 1).seq()))))));
    });
  }

  private Route logs(Endpoint.Call c, Optional<String> attemptParam, Optional<String> tailParam) {
    String id = c.param("id");
    int tail;
    Integer attempt;
    try {
      tail = tailParam.map(Integer::parseInt).orElse(65536);
    } catch (NumberFormatException e) {
      return Problems.complete(Problem.invalidField("tail", "must be a whole number"));
    }
    try {
      attempt = attemptParam.map(Integer::parseInt).orElse(null);
    } catch (NumberFormatException e) {
      return Problems.complete(Problem.invalidField("attempt", "must be a whole number"));
    }
    if (tail < 0 || tail > MAX_TAIL) {
      return Problems.complete(Problem.invalidField("tail", "must be between 0 and " + MAX_TAIL));
    }
    return onSuccess(runs.get(id, c.caller().runAccess()), reply -> {
      if (reply.outcome() != Outcome.UNCHANGED) {
        return problemFor(reply);
      }
      int n = attempt == null ? reply.state().attempt() : attempt;
      if (n < 1 || n > reply.state().attempt()) {
        return Problems.complete(Problem.invalidField("attempt", "the run has attempts 1 to " + reply.state().attempt()));
      }
      // the output is on the disk of the node that ran the attempt, wherever that is
      CompletionStage<Optional<String>> node = n == reply.state().attempt() && reply.state().worker() != null
          ? CompletableFuture.completedFuture(Optional.of(reply.state().worker().node()))
          : journal.attemptNode(id, n);
      return onSuccess(node.thenCompose(where -> where.isEmpty()
          ? CompletableFuture.completedFuture(new LogServer.Reply(null, LogServer.Outcome.NO_OUTPUT,
              "attempt " + n + " has not run (yet)"))
          : AskPattern.<LogServer.Command, LogServer.Reply>ask(logs,
              r -> new LogServer.Fetch(where.get(), id, n, tail, r), askTimeout, scheduler)), log ->
          log.outcome() == LogServer.Outcome.FOUND
              ? complete(HttpResponse.create().withEntity(
                  HttpEntities.create(ContentTypes.TEXT_PLAIN_UTF8, log.log().getSource())))
              : Problems.complete(Problem.notFound(log.detail())));
    });
  }

  static Duration parseWait(Optional<String> wait) {
    if (wait.isEmpty()) {
      return Duration.ZERO;
    }
    var m = WAIT.matcher(wait.get().trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("wait must look like 5s, 500ms or 5 (seconds)");
    }
    long n = Long.parseLong(m.group(1));
    Duration d = "ms".equals(m.group(2)) ? Duration.ofMillis(n) : Duration.ofSeconds(n);
    if (d.compareTo(MAX_WAIT) > 0) {
      throw new IllegalArgumentException("wait is at most " + MAX_WAIT.toSeconds() + "s");
    }
    return d;
  }

  private static boolean isTimeout(Throwable e) {
    Throwable t = unwrap(e);
    return t instanceof TimeoutException || t instanceof AskTimeoutException;
  }

  private static Throwable unwrap(Throwable e) {
    return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
  }

  private Route run(StatusCode status, RunEntity.Reply reply, List<HttpHeader> headers) {
    List<HttpHeader> all = new ArrayList<>(headers);
    all.add(ETag.create(etag(reply.version())));
    return Json.complete(status, RunView.of(reply.state(), reply.version()), all);
  }

  private Route problemFor(RunEntity.Reply reply) {
    Problem p = switch (reply.outcome()) {
      case NOT_FOUND -> Problem.notFound(reply.detail());
      case STALE_ATTEMPT -> Problem.of(409, "stale-attempt", "Stale attempt", reply.detail());
      case INVALID_STATE -> Problem.of(409, "invalid-state", "Not allowed in this state", reply.detail());
      case IDEMPOTENCY_CONFLICT -> Problem.of(409, "idempotency-conflict", "Idempotency key reused", reply.detail());
      case ATTEMPT_ENDED -> null;
      default -> Problem.of(500, "internal", "Internal error", "unexpected outcome " + reply.outcome());
    };
    if (p == null) {
      // a per-run token whose attempt is over is no longer a credential
      return Problems.unauthorized(reply.detail(), true);
    }
    return Problems.complete(p);
  }
}
