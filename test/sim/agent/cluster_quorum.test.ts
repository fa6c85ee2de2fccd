/** The cluster workload's seeds in synchronous mode quorum (cluster_seeds.ts). */
import { clusterSeedsTest } from "./cluster_seeds.js";

clusterSeedsTest("quorum");
