DROP TABLE tailnet_peers;
