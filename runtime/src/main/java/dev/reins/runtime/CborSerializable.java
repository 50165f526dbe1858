package dev.reins.runtime;

/**
 * Marker for messages that may cross the network between nodes (entity commands, replies, worker
 * reports); bound to Jackson CBOR in reference.conf.
 */
public interface CborSerializable {}
