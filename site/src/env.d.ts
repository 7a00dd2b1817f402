/// <reference types="vite/client" />
/// <reference types="astro/client" />
