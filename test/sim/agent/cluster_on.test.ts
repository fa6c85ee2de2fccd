/** The cluster workload's seeds in synchronous mode on (cluster_seeds.ts). */
import { clusterSeedsTest } from "./cluster_seeds.js";

clusterSeedsTest("on");
