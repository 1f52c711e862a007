{
  "targets": [
    {
      "target_name": "meshlite_native",
      "sources": ["src/addon.c", "src/sockets.c", "src/netns.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
