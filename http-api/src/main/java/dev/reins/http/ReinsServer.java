package dev.reins.http;

import com.typesafe.config.Config;
import dev.reins.persistence.JournalDatabase;
import dev.reins.persistence.JournalSchema;
import dev.reins.persistence.RunJournal;
import dev.reins.runtime.ReinsNode;
import dev.reins.runtime.run.Runs;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import dev.reins.http.auth.Authenticator;
import dev.reins.persistence.Connections;
import dev.reins.persistence.auth.AdminBootstrap;
import dev.reins.persistence.auth.TokenStore;
import dev.reins.runtime.auth.RunTokens;
import dev.reins.runtime.worker.JobCredentials;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import scala.concurrent.ExecutionContextExecutor;
import org.apache.pekko.actor.typed.DispatcherSelector;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Reins server: the journal schema, the actor system (a cluster node), the runtime and the
 * HTTP API. {@link #start} returns once HTTP is bound; {@link #close} shuts everything down.
 */
public final class ReinsServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReinsServer.class);

  private final ActorSystem<Void> system;
  private final ServerBinding binding;

  private ReinsServer(ActorSystem<Void> system, ServerBinding binding) {
    this.system = system;
    this.binding = binding;
  }

  /** Starts a server from a resolved configuration (see the reference.conf files for the keys). */
  public static ReinsServer start(Config config) {
    Clock clock = Clock.systemUTC();
    JournalDatabase db = JournalDatabase.fromConfig(config);
    HttpSettings http = HttpSettings.fromConfig(config);
    if (config.getBoolean("reins.db.create-schema")) {
      JournalSchema.createIfMissing(db);
    }
    RunTokens runTokens;
    try {
      TokenStore direct = new TokenStore(Connections.direct(db), clock);
      direct.ensureSigningKey();
      if (http.adminToken().isEmpty()) {
        AdminBootstrap.createIfNoTokens(direct, JournalDatabase.dataDir(config)).ifPresent(file ->
            log.warn("created the first admin token and wrote it to {} (readable by this user only); use it as "
                + "'Authorization: Bearer $(cat {})' and create narrower tokens with ./reins tokens create", file, file));
      }
      runTokens = new RunTokens(direct::signingKeys, clock);
      runTokens.reload();
    } catch (Exception e) {
      throw new IllegalStateException("Reins could not read or create its tokens in " + db + ": " + rootMessage(e), e);
    }
    Config full = db.pekkoConfig().withFallback(config).resolve();
    CompletableFuture<ServerBinding> bound = new CompletableFuture<>();
    ActorSystem<Void> system = ActorSystem.create(guardian(full, http, runTokens, clock, bound), "reins", full);
    try {
      ServerBinding binding = bound.get(60, TimeUnit.SECONDS);
      log.info("Reins is listening on http://{}:{} (journal: {}, data: {})",
          binding.localAddress().getHostString(), binding.localAddress().getPort(), db, JournalDatabase.dataDir(full));
      return new ReinsServer(system, binding);
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("Reins could not start: " + rootMessage(e), e);
    }
  }

  private static Behavior<Void> guardian(
      Config config, HttpSettings http, RunTokens runTokens, Clock clock, CompletableFuture<ServerBinding> bound) {
    return Behaviors.setup(ctx -> {
      ActorSystem<Void> system = ctx.getSystem();
      if (config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
        // no seed nodes configured (tests, ephemeral ports): this node forms its own cluster
        Cluster cluster = Cluster.get(system);
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      ExecutionContextExecutor blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig("reins.db.blocking-dispatcher"));
      TokenStore tokens = new TokenStore(Connections.pooled(system), clock);
      RunTokens signer = runTokens;
      system.scheduler().scheduleWithFixedDelay(http.signingKeyRefresh(), http.signingKeyRefresh(), () -> {
        try {
          signer.reload();
        } catch (Exception e) {
          log.warn("could not reload the run token signing keys (keeping the ones loaded): {}", e.toString());
        }
      }, blocking);
      JobCredentials credentials = (runId, tenant, attempt, spec) ->
          signer.issue(runId, tenant, attempt, JobCredentials.lifetime(spec));
      ReinsNode node = ReinsNode.start(ctx, config, credentials, clock);
      RunJournal journal = new RunJournal(system);
      Runs runs = new Runs(system, http.askTimeout());
      Authenticator authenticator = new Authenticator(
          tokens, signer, http.adminToken(), blocking, clock, http.tokenCacheTtl(), http.tokenCacheMax());
      Route route = routes(system, runs, journal, node, http, authenticator, tokens, blocking, clock);
      Http.get(system)
          .newServerAt(http.host(), http.port())
          .bind(route)
          .whenComplete((b, e) -> {
            if (e != null) {
              bound.completeExceptionally(e);
            } else {
              bound.complete(b.addToCoordinatedShutdown(Duration.ofSeconds(10), system));
            }
          });
      return Behaviors.empty();
    });
  }

  /** Every endpoint of the API, in one table (see {@link Endpoint}). */
  static List<Endpoint> endpoints(
      ActorSystem<?> system, Runs runs, RunJournal journal, ReinsNode node, Authenticator authenticator,
      TokenStore tokens, Executor blocking, Clock clock) {
    List<Endpoint> all = new ArrayList<>();
    all.addAll(new RunRoutes(runs, node.quota(), journal, node.runSettings().defaults(), node.workerSettings().dataDir()).endpoints());
    all.addAll(new AdminRoutes(tokens, authenticator, blocking, clock).endpoints());
    all.addAll(new HealthRoutes(system, journal).endpoints());
    return all;
  }

  static Route routes(
      ActorSystem<?> system, Runs runs, RunJournal journal, ReinsNode node, HttpSettings http, Authenticator authenticator,
      TokenStore tokens, Executor blocking, Clock clock) {
    ApiRouter router = new ApiRouter(endpoints(system, runs, journal, node, authenticator, tokens, blocking, clock), authenticator, http);
    AllDirectives d = new AllDirectives() {};
    return d.handleExceptions(Problems.exceptionHandler(http.retryAfter()), () ->
        d.handleRejections(Problems.rejectionHandler(), () ->
            d.withSizeLimit(http.maxBody(), router::route)));
  }

  public InetSocketAddress address() {
    return binding.localAddress();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  @Override
  public void close() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("actor system did not terminate in time: {}", e.toString());
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
