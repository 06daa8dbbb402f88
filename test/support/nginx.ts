// A real nginx for the tests: scripts/nginx.mjs (shared with the bench).
export { startNginx, type Nginx } from '../../scripts/nginx.mjs';
