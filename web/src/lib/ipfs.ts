/** Where the public gateway serves a CID. */
export const gatewayUrl = (gateway: string, cid: string): string => `${gateway}/ipfs/${cid}`;
