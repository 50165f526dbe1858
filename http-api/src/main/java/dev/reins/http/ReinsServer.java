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
    JournalDatabase db = JournalDatabase.fromConfig(config);
    if (config.getBoolean("reins.db.create-schema")) {
      JournalSchema.createIfMissing(db);
    }
    Config full = db.pekkoConfig().withFallback(config).resolve();
    CompletableFuture<ServerBinding> bound = new CompletableFuture<>();
    ActorSystem<Void> system = ActorSystem.create(guardian(full, bound), "reins", full);
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

  private static Behavior<Void> guardian(Config config, CompletableFuture<ServerBinding> bound) {
    return Behaviors.setup(ctx -> {
      ActorSystem<Void> system = ctx.getSystem();
      if (config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
        // no seed nodes configured (tests, ephemeral ports): this node forms its own cluster
        Cluster cluster = Cluster.get(system);
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      ReinsNode node = ReinsNode.start(ctx, config, Clock.systemUTC());
      RunJournal journal = new RunJournal(system);
      Runs runs = new Runs(system, config.getDuration("reins.http.ask-timeout"));
      Route route = routes(system, runs, journal, node, config);
      Http.get(system)
          .newServerAt(config.getString("reins.http.host"), config.getInt("reins.http.port"))
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

  static Route routes(ActorSystem<?> system, Runs runs, RunJournal journal, ReinsNode node, Config config) {
    RunRoutes runRoutes = new RunRoutes(runs, journal, node.runSettings().defaults(), node.workerSettings().dataDir());
    HealthRoutes health = new HealthRoutes(system, journal);
    long maxBody = config.getBytes("reins.http.max-body");
    AllDirectives d = new AllDirectives() {};
    return d.handleExceptions(Problems.exceptionHandler(), () ->
        d.handleRejections(Problems.rejectionHandler(), () ->
            d.withSizeLimit(maxBody, () ->
                d.pathPrefix("v1", () -> d.concat(runRoutes.route(), health.route())))));
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
