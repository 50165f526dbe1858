package dev.reins.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.reins.http.auth.Authenticator;
import dev.reins.persistence.auth.TokenStore;
import dev.reins.protocol.api.CreateTokenRequest;
import dev.reins.protocol.auth.Scope;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * {@code /v1/admin/tokens}: API tokens, for the {@code admin} scope. The same table as {@code
 * ./reins tokens}. An admin sees and manages only the tokens of the tenants it administers (see
 * {@link dev.reins.http.auth.Caller#administers}); another tenant's token is not found, as
 * another tenant's run is.
 */
final class AdminRoutes extends AllDirectives {
  private static final Instant LATEST_EXPIRY = Instant.parse("+10000-01-01T00:00:00Z");

  private final TokenStore store;
  private final Authenticator authenticator;
  private final Executor blocking;
  private final Clock clock;

  AdminRoutes(TokenStore store, Authenticator authenticator, Executor blocking, Clock clock) {
    this.store = store;
    this.authenticator = authenticator;
    this.blocking = blocking;
    this.clock = clock;
  }

  List<Endpoint> endpoints() {
    Access admin = Access.scope(Scope.ADMIN);
    return List.of(
        Endpoint.post("/admin/tokens", admin, c -> entity(Unmarshaller.entityToString(), body -> create(c, body))),
        Endpoint.get("/admin/tokens", admin, c -> onSuccess(db(store::list), tokens -> Json.complete(StatusCodes.OK,
            tokens.stream().filter(t -> c.caller().administers(t.tenant())).map(t -> t.view(null)).toList(), List.of()))),
        Endpoint.get("/admin/tokens/{tokenId}", admin, c -> onSuccess(db(() -> visible(c)), token -> token
            .map(t -> Json.complete(StatusCodes.OK, t.view(null), List.of()))
            .orElseGet(() -> noSuchToken(c)))),
        Endpoint.delete("/admin/tokens/{tokenId}", admin, c -> onSuccess(db(() -> {
          // a token's tenant never changes: checked first, the revocation cannot reach another tenant's
          Optional<TokenStore.ApiToken> token = visible(c);
          return token.isEmpty() ? token : store.revoke(token.get().id());
        }), revoked -> {
          if (revoked.isEmpty()) {
            return noSuchToken(c);
          }
          authenticator.forget(revoked.get().id());
          return Json.complete(StatusCodes.OK, revoked.get().view(null), List.of());
        })));
  }

  /** The token the path names, if the caller administers its tenant. */
  private Optional<TokenStore.ApiToken> visible(Endpoint.Call c) throws Exception {
    return store.get(c.param("tokenId")).filter(t -> c.caller().administers(t.tenant()));
  }

  private static Route noSuchToken(Endpoint.Call c) {
    return Problems.complete(Problem.notFound("no token with id '" + c.param("tokenId") + "'"));
  }

  private Route create(Endpoint.Call c, String body) {
    CreateTokenRequest request;
    try {
      request = body.isBlank() ? null : Json.read(body, CreateTokenRequest.class);
    } catch (JsonProcessingException e) {
      return Problems.complete(Problems.fromJson(e));
    }
    if (request == null) {
      return Problems.complete(Problem.invalidField("name", "a JSON body with name and scopes is required"));
    }
    Set<Scope> scopes = EnumSet.noneOf(Scope.class);
    if (request.scopes() == null || request.scopes().isEmpty()) {
      return Problems.complete(Problem.invalidField("scopes", "at least one scope: runs:read, runs:submit, runs:cancel, "
          + "runs:reset, delegations:write, metrics:read, admin"));
    }
    for (int i = 0; i < request.scopes().size(); i++) {
      Optional<Scope> scope = Scope.parse(request.scopes().get(i));
      if (scope.isEmpty()) {
        return Problems.complete(Problem.invalidField("scopes[" + i + "]", "unknown scope '" + request.scopes().get(i) + "'"));
      }
      scopes.add(scope.get());
    }
    String tenant = request.tenant() == null ? c.tenant() : request.tenant();
    try {
      TokenStore.validate(request.name(), tenant, scopes);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      int colon = message.indexOf(':');
      return Problems.complete(Problem.invalidField(message.substring(0, colon), message.substring(colon + 2)));
    }
    if (!c.caller().administers(tenant)) {
      return Problems.complete(Problem.of(403, "forbidden", "Forbidden",
          "an admin of tenant '" + c.tenant() + "' cannot create tokens of tenant '" + tenant + "'"));
    }
    if (request.expiresAt() != null && !request.expiresAt().isAfter(clock.instant())) {
      return Problems.complete(Problem.invalidField("expiresAt", "must be in the future"));
    }
    if (request.expiresAt() != null && !request.expiresAt().isBefore(LATEST_EXPIRY)) {
      // the table keeps epoch milliseconds: a later instant would overflow them
      return Problems.complete(Problem.invalidField("expiresAt",
          "must be before the year 10000 (leave it out for a token that does not expire)"));
    }
    return onSuccess(db(() -> store.create(request.name(), tenant, scopes, request.expiresAt())), issued ->
        Json.complete(StatusCodes.CREATED, issued.token().view(issued.secret()),
            List.of(c.location("/v1/admin/tokens/" + issued.token().id()))));
  }

  @FunctionalInterface
  private interface Sql<T> {
    T call() throws Exception;
  }

  private <T> CompletionStage<T> db(Sql<T> call) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return call.call();
      } catch (Exception e) {
        throw new CompletionException(e);
      }
    }, blocking);
  }
}
