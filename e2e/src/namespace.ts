/** The namespace the manifests deploy Skewless and the echo backends into; scenarios work only there. */
export const NAMESPACE = 'skewless';
