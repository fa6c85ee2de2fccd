/** The cluster workload's seeds in synchronous mode async (cluster_seeds.ts). */
import { clusterSeedsTest } from "./cluster_seeds.js";

clusterSeedsTest("async");
