package dev.reins.runtime.delegation;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code reins.delegations.a2a}: see reference.conf. The peers' credentials live here and only
 * here: they are added to the requests to a peer and never journaled, logged or answered.
 */
public record A2aSettings(
    A2aAllowlist allowlist, Duration requestTimeout, Duration pollMin, Duration pollMax, long maxResponse,
    List<PeerCredentials> credentials) {

  public A2aSettings {
    credentials = List.copyOf(credentials);
  }

  /** Headers for the peers under {@code urlPrefix} (matched like an allowlist entry). */
  public record PeerCredentials(String urlPrefix, Map<String, String> headers) {
    public PeerCredentials {
      headers = Map.copyOf(headers);
    }

    @Override
    public String toString() {
      return "PeerCredentials[" + urlPrefix + ", headers " + headers.keySet() + "]"; // never the values
    }
  }

  public static A2aSettings fromConfig(Config config) {
    Config a = config.getConfig("reins.delegations.a2a");
    List<Config> entries = new ArrayList<>(a.getConfigList("peers"));
    String file = a.getString("credentials-file");
    if (!file.isBlank()) {
      // a file of its own (a mounted secret, say), so that credentials stay out of the environment
      java.io.File f = new java.io.File(file);
      if (!f.canRead()) {
        throw new IllegalArgumentException("reins.delegations.a2a.credentials-file: cannot read " + file);
      }
      entries.addAll(com.typesafe.config.ConfigFactory.parseFile(f).resolve().getConfigList("peers"));
    }
    List<PeerCredentials> peers = new ArrayList<>();
    for (Config peer : entries) {
      Map<String, String> headers = new LinkedHashMap<>();
      Config h = peer.getConfig("headers");
      for (var e : h.root().entrySet()) {
        headers.put(e.getKey(), h.getString("\"" + e.getKey() + "\""));
      }
      peers.add(new PeerCredentials(peer.getString("url"), headers));
    }
    return new A2aSettings(new A2aAllowlist(a.getString("allowed-urls")), a.getDuration("request-timeout"),
        a.getDuration("poll-min"), a.getDuration("poll-max"), a.getBytes("max-response"), peers);
  }

  /** The headers of the most specific configured prefix that covers {@code url}; none otherwise. */
  public Map<String, String> headersFor(String url) {
    return credentials.stream()
        .filter(c -> new A2aAllowlist(c.urlPrefix()).allows(url))
        .max(Comparator.comparingInt(c -> c.urlPrefix().length()))
        .map(PeerCredentials::headers)
        .orElse(Map.of());
  }
}
