// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/config/listener/v3/listener.proto


export interface ValidationListenerManager {
}

export interface ValidationListenerManager__Output {
}
